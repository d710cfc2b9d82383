"""A run's report as rows, a markdown summary and a one-line verdict (pure; no Prefect, no I/O)."""

from __future__ import annotations

from hsnap.errors import CREDENTIAL_CODES
from hsnap.formats import duration, names
from hsnap.models import PruneRow, RunReport, SnapshotOutcome
from hsnap.tables import Column

COLUMNS = (
    "server",
    "id",
    "status",
    "image id",
    "size GB",
    "lock wait",
    "duration",
    "attempts",
    "shut down",
    "off for",
    "running again",
    "error",
)


#: the report as the CLI shows it: what gives way first at 80 columns (see hsnap.tables)
TABLE_COLUMNS = (
    Column("server", drop=0),
    Column("id", drop=6, right=True),
    Column("status", drop=0),
    Column("image id", short="image", drop=2, right=True),
    Column("size GB", short="GB", drop=3, right=True),
    Column("lock wait", short="waited", drop=3, right=True),
    Column("duration", short="took", drop=2, right=True),
    Column("attempts", short="tries", drop=4, right=True),
    Column("shut down", short="off", drop=5),
    Column("off for", drop=5, right=True),
    Column("running again", short="on again", drop=1),
    Column("error", below=True),
)

_seconds = duration


def row(outcome: SnapshotOutcome) -> dict[str, str]:
    """One table row, every cell text (Prefect table artifacts and the CLI share it)."""
    return {
        "server": outcome.server,
        "id": "" if outcome.server_id is None else str(outcome.server_id),
        "status": outcome.status,
        "image id": "" if outcome.image_id is None else str(outcome.image_id),
        "size GB": "" if outcome.image_size_gb is None else f"{outcome.image_size_gb:.2f}",
        "lock wait": _seconds(outcome.lock_wait_s),
        "duration": _seconds(outcome.snapshot_s),
        "attempts": str(outcome.attempts),
        "shut down": "yes" if outcome.shut_down else "",
        "off for": _seconds(outcome.off_s) if outcome.shut_down else "",
        "running again": {True: "yes", False: "NO", None: ""}[outcome.running_again],
        "error": outcome.error or "",
    }


def rows(report: RunReport) -> list[dict[str, str]]:
    return [row(o) for o in report.outcomes]


def shown_columns(
    table: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS
) -> tuple[str, ...]:
    """The columns worth showing: the first always, the others unless empty in every row.

    The CLI's tables and the ``snapshot-report`` artifact both use it, so e.g. the consistent-mode
    columns of a plain run do not push ``error`` out of view.
    """
    return tuple(c for i, c in enumerate(columns) if i == 0 or any(r.get(c) for r in table))


def artifact_rows(report: RunReport) -> list[dict[str, str]]:
    """The report's rows with only the columns worth showing (the ``snapshot-report`` table)."""
    table = rows(report)
    shown = shown_columns(table)
    return [{c: r[c] for c in shown} for r in table]


def verdict(report: RunReport) -> str:
    total = len(report.outcomes)
    if total == 0:
        return "no server matched the selection: nothing was snapshotted"
    if report.dry_run:
        return f"dry run: {total} server(s) would be snapshotted, nothing was changed"
    if not report.failed:
        return f"all {total} server(s) snapshotted"
    failed = names([o.server for o in report.failed], limit=10)
    return f"{len(report.failed)} of {total} server(s) failed: {failed}"


def markdown(report: RunReport, cost: str | None = None) -> str:
    """The run's summary for a Prefect markdown artifact; ``cost``: what snapshots cost a month."""
    lines = [f"# hsnap: {verdict(report)}", ""]
    waited = [o for o in report.outcomes if o.lock_holders]
    if waited:
        lines += ["## Waited for locks", ""]
        lines += [
            f"- **{o.server}**: {', '.join(o.lock_holders)} ({_seconds(o.lock_wait_s)})"
            for o in waited
        ]
        lines.append("")
    left_off = [o for o in report.outcomes if o.status == "left-off"]
    if left_off:
        lines += ["## LEFT POWERED OFF: start these servers", ""]
        lines += [f"- **{o.server}** (id {o.server_id}): {o.error}" for o in left_off]
        lines.append("")
    if report.failed:
        lines += ["## Failed", ""]
        lines += [f"- **{o.server}** (`{o.error_code}`): {o.error}" for o in report.failed]
        lines.append("")
    made = [o for o in report.outcomes if o.image_size_gb is not None]
    size = sum(o.image_size_gb or 0.0 for o in made)
    lines += [f"This run created {len(made)} snapshot(s), {size:.2f} GB in all.", ""]
    if cost:
        lines += [f"{cost}.", ""]
    if report.budget:
        lines += [f"Request budget: {report.budget}.", ""]
    lines.append(f"Flow run `{report.flow_run_id}`.")
    return "\n".join(lines)


def exit_code(report: RunReport) -> int:
    """0 when every server succeeded (or was planned), 2 when credentials failed, else 1."""
    if not report.failed and not report.prune_failed and not report.prune_error:
        return 0
    if report.failed and all(o.error_code in CREDENTIAL_CODES for o in report.failed):
        return 2
    return 1


PRUNE_COLUMNS = (
    "image id",
    "server",
    "created",
    "status",
    "size GB",
    "decision",
    "reason",
    "result",
    "error",
)


def prune_rows(pruned: tuple[PruneRow, ...] | list[PruneRow]) -> list[dict[str, str]]:
    """The prune plan as table rows: every managed snapshot, kept or deleted, and why."""
    return [
        {
            "image id": str(r.image_id),
            "server": r.server,
            "created": r.created[:19].replace("T", " "),
            "status": r.status,
            "size GB": "" if r.size_gb is None else f"{r.size_gb:.2f}",
            "decision": r.action,
            "reason": r.reason,
            "result": r.result,
            "error": r.error or "",
        }
        for r in pruned
    ]


PRUNE_TABLE_COLUMNS = (
    Column("image id", short="image", drop=0, right=True),
    Column("server", drop=0),
    Column("created", drop=3),
    Column("status", drop=4),
    Column("size GB", short="GB", drop=5, right=True),
    Column("decision", drop=1),
    Column("reason", drop=0, clip=1),
    Column("result", drop=0),
    Column("error", below=True),
)


def prune_verdict(pruned: tuple[PruneRow, ...] | list[PruneRow]) -> str:
    counts = {k: sum(1 for r in pruned if r.result == k) for k in ("deleted", "would delete")}
    failed = [r for r in pruned if r.result == "failed"]
    kept = sum(1 for r in pruned if r.action == "keep")
    text = f"{len(pruned)} managed snapshot(s): {kept} kept"
    if counts["would delete"]:
        text += f", {counts['would delete']} would be deleted (dry run)"
    text += f", {counts['deleted']} deleted"
    if failed:
        text += f", {len(failed)} failed to delete: " + names([str(r.image_id) for r in failed])
    return text


def prune_markdown(pruned: tuple[PruneRow, ...] | list[PruneRow]) -> str:
    lines = [f"# hsnap retention: {prune_verdict(pruned)}", ""]
    for row in pruned:
        mark = "~~" if row.result == "deleted" else ""
        lines.append(
            f"- {mark}image {row.image_id}{mark} ({row.server}, {row.created[:10]}, "
            f"{row.status}): {row.reason} -> {row.result}" + (f": {row.error}" if row.error else "")
        )
    return "\n".join(lines)
