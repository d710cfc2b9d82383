"""The audit as table rows, a markdown summary and a one-line verdict (pure; no Prefect, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from hsnap.formats import age_hours, amount, money_header, names
from hsnap.observe.audit import AuditReport, Holdings, OrphanAudit, ServerAudit
from hsnap.observe.cost import money
from hsnap.tables import Column

COLUMNS = (
    "server",
    "id",
    "newest snapshot",
    "made by",
    "age",
    "RPO",
    "snapshots",
    "GB",
    "cost/month",
    "last drill",
)


def table_columns(currency: str) -> tuple[Column, ...]:
    """The audit as the CLI shows it: the currency once, in the cost column's header."""
    return (
        Column("server", drop=0),
        Column("id", drop=6, right=True),
        Column("newest snapshot", short="newest", drop=4, right=True),
        Column("made by", short="by", drop=5),
        Column("age", drop=0, right=True),
        Column("RPO", drop=0),
        Column("snapshots", short="count", drop=3, right=True),
        Column("GB", drop=3, right=True),
        Column("cost/month", header=money_header("{currency}/month", currency), drop=1, right=True),
        Column("last drill", short="drill", drop=2),
    )


def artifact_rows(report: AuditReport) -> list[dict[str, str]]:
    """The rows for the Prefect table artifact: the cost column's header names the currency."""
    header = money_header("{currency}/month", report.currency)
    return [{(header if k == "cost/month" else k): v for k, v in r.items()} for r in rows(report)]


_age = age_hours


def _drilled(day: date | None, today: date) -> str:
    if day is None:
        return "never"
    days = (today - day).days
    return "today" if days <= 0 else f"{days}d ago"


def _held(h: Holdings, today: date) -> dict[str, str]:
    return {
        "snapshots": str(h.count),
        "GB": f"{h.size_gb:.2f}",
        "cost/month": amount(h.monthly),
        "last drill": _drilled(h.last_drill, today),
    }


def server_row(s: ServerAudit, today: date) -> dict[str, str]:
    """One existing server, every cell text (Prefect table artifacts and the CLI share it).

    Money cells are plain amounts: the currency is in the header (:func:`table_columns`).
    """
    maker = {True: "hsnap", False: "other", None: ""}[s.newest_by_hsnap]
    verdict = "ok" if s.meets_rpo else ("NEVER" if s.newest_image_id is None else "BREACH")
    return {
        "server": s.server,
        "id": str(s.server_id),
        "newest snapshot": "none" if s.newest_image_id is None else str(s.newest_image_id),
        "made by": maker,
        "age": _age(s.age_hours),
        "RPO": verdict,
        **_held(s.holdings, today),
    }


def orphan_row(o: OrphanAudit, today: date) -> dict[str, str]:
    """Snapshots of a server that is gone."""
    return {
        "server": f"{o.server} (deleted)",
        "id": "" if o.server_id is None else str(o.server_id),
        "newest snapshot": "",
        "made by": "",
        "age": "",
        "RPO": "",
        **_held(o.holdings, today),
    }


def rows(report: AuditReport) -> list[dict[str, str]]:
    """Every server, then every deleted server's snapshots, then the project's totals."""
    today = report.now.date()
    total = {
        **dict.fromkeys(COLUMNS, ""),
        "server": "TOTAL",
        **_held(report.totals, today),
    }
    return [
        *(server_row(s, today) for s in report.servers),
        *(orphan_row(o, today) for o in report.orphans),
        total,
    ]


def verdict(report: AuditReport) -> str:
    total = len(report.servers)
    if not report.breaches:
        return f"all {total} server(s) have a snapshot younger than {report.rpo_hours:g} h"
    named = names([s.server for s in report.breaches], limit=10)
    return (
        f"{len(report.breaches)} of {total} server(s) have no snapshot younger than "
        f"{report.rpo_hours:g} h: {named}"
    )


def markdown(report: AuditReport) -> str:
    """The audit's summary for a Prefect markdown artifact."""
    cur = report.currency
    lines = [f"# hsnap audit: {verdict(report)}", ""]
    if report.breaches:
        lines += ["## Older than the RPO", ""]
        lines += [
            f"- **{s.server}** (id {s.server_id}): "
            + (f"newest snapshot {_age(s.age_hours)} old" if s.newest_image_id else "none at all")
            for s in report.breaches
        ]
        lines.append("")
    if report.never_snapshotted:
        names = ", ".join(s.server for s in report.never_snapshotted)
        lines += [f"Never snapshotted: {names}.", ""]
    if report.orphans:
        lines += ["## Snapshots of deleted servers", ""]
        lines += [
            f"- {o.server} (id {o.server_id}): {o.holdings.count} snapshot(s), "
            f"{o.holdings.size_gb:.2f} GB, {money(o.holdings.monthly, cur)} a month"
            for o in report.orphans
        ]
        lines.append("")
    lines += uncovered_markdown(report)
    t = report.totals
    lines.append(
        f"Project: {t.count} snapshot(s), {t.size_gb:.2f} GB, {money(t.monthly, cur)} a month "
        "(net, at the API's current price per GB-month)."
    )
    return "\n".join(lines)


#: the second table: what no snapshot covers (few, short columns: it fits 80 columns)
def uncovered_title(report: AuditReport) -> str:
    gb = report.uncovered_volume_gb
    return f"in no snapshot: {gb:g} GB of attached volumes"


def uncovered_summary(report: AuditReport) -> list[str]:
    """What no snapshot covers, a few lines for the whole fleet (per server: --json, artifact).

    One line per kind, naming the first servers: a 200-server audit stays one table plus these.
    """
    servers = report.servers

    def who(found: list[ServerAudit], label: Callable[[ServerAudit], str]) -> str:
        if len(found) == len(servers) > 1:
            return f"all {len(servers)} servers"
        return names([label(s) for s in found])

    gb = report.uncovered_volume_gb
    volumes = [s for s in servers if s.uncovered.volumes]
    losing = [s for s in servers if s.uncovered.lost_ips]
    no_recipe = [s for s in servers if s.uncovered.recipe is False]
    backed_up = [s for s in servers if s.uncovered.backups]
    lines = ["Not covered by any snapshot:" + (f" {gb:g} GB of attached volumes." if gb else "")]
    if volumes:
        text = who(volumes, lambda s: f"{s.server} ({s.uncovered.volume_gb:g} GB)")
        lines.append(f"  volumes, in no snapshot: {text}")
    if losing:
        text = who(losing, lambda s: s.server)
        lines.append(f"  addresses released if deleted: {text} (hsnap keep-addresses keeps them)")
    if no_recipe:
        text = who(no_recipe, lambda s: s.server)
        lines.append(f"  newest snapshot lacks the recipe restore --replace needs: {text}")
    if backed_up:
        text = who(backed_up, lambda s: f"{s.server} ({s.uncovered.backups})")
        lines.append(f"  Hetzner Backups, deleted with their server: {text}")
    if len(lines) == 1:
        lines[0] += " nothing (no volumes, addresses kept, recipes recorded)."
    return lines


def uncovered_markdown(report: AuditReport) -> list[str]:
    """The markdown section: what snapshots do not cover, per server, and the volume total."""
    lines = ["## What snapshots do not cover", ""]
    for s in report.servers:
        u, parts = s.uncovered, []
        if u.volumes:
            parts.append(f"{u.volumes} attached volume(s), {u.volume_gb:g} GB: in no snapshot")
        if u.lost_ips:
            parts.append(
                f"Primary IPs deleted with the server (auto_delete on): {', '.join(u.lost_ips)}"
                " (`hsnap keep-addresses` keeps them)"
            )
        if u.recipe is False:
            parts.append("newest snapshot has no recipe: `restore --replace` cannot rewire it")
        if u.backups:
            newest = u.newest_backup.strftime("%Y-%m-%d %H:%M UTC") if u.newest_backup else "?"
            parts.append(f"{u.backups} Hetzner Backup(s), newest {newest}: deleted with the server")
        if parts:
            lines.append(f"- **{s.server}** (id {s.server_id}): " + "; ".join(parts))
    if len(lines) == 2:
        lines.append("Nothing: no volumes, no addresses lost on delete, every recipe recorded.")
    lines += ["", f"Total: {uncovered_title(report)}.", ""]
    return lines
