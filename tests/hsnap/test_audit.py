"""The freshness audit and snapshot costs, as pure functions: servers, snapshots and a price in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hsnap.models import ImagePrice, ImageRef, ServerRef
from hsnap.observe import audit_report
from hsnap.observe.audit import audit
from hsnap.observe.cost import money, project_cost

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PRICE = ImagePrice(currency="EUR", net=Decimal("0.0110"), gross=Decimal("0.0131"))
WEB, DB = ServerRef(1, "web", "running"), ServerRef(2, "db", "running")
NEW = ServerRef(3, "new", "off")


def snap(image_id: int, server: ServerRef | None, hours_old: float, **kw: Any) -> ImageRef:
    hsnap = kw.pop("hsnap", True)
    labels = {"managed-by": "hsnap", "hsnap/server-id": str(server.id)} if server and hsnap else {}
    labels.update(kw.pop("labels", {}))
    return ImageRef(
        id=image_id,
        status=kw.pop("status", "available"),
        description="",
        image_size=kw.pop("size", 10.0),
        labels=labels,
        created=NOW - timedelta(hours=hours_old),
        created_from=server.name if server else None,
        created_from_id=kw.pop("from_id", server.id if server else None),
    )


def test_each_server_reports_its_newest_available_snapshot_and_whether_it_meets_the_rpo() -> None:
    images = [
        snap(10, WEB, 30),
        snap(11, WEB, 2, hsnap=False),  # a manual snapshot is a recovery point too
        snap(12, WEB, 1, status="creating", size=None),  # not yet a recovery point
        snap(20, DB, 27),
    ]

    report = audit([WEB, DB, NEW], images, PRICE, now=NOW, rpo_hours=26)

    web, db, new = (next(s for s in report.servers if s.server == n) for n in ("web", "db", "new"))
    assert (web.newest_image_id, web.newest_by_hsnap, web.meets_rpo) == (11, False, True)
    assert web.age_hours == pytest.approx(2)
    assert (db.newest_image_id, db.newest_by_hsnap, db.meets_rpo) == (20, True, False)
    assert (new.newest_image_id, new.meets_rpo) == (None, False)
    assert [s.server for s in report.breaches] == ["db", "new"]
    assert [s.server for s in report.never_snapshotted] == ["new"]


def test_the_rpo_is_the_callers() -> None:
    report = audit([DB], [snap(20, DB, 27)], PRICE, now=NOW, rpo_hours=48)

    assert report.breaches == ()


def test_counts_sizes_costs_and_last_drill_per_server_and_for_the_project() -> None:
    images = [
        snap(10, WEB, 30, size=20.0, labels={"hsnap/verified": "2026-11-20"}),
        snap(11, WEB, 2, size=5.5, labels={"hsnap/verified": "2026-11-27"}),
        snap(20, DB, 5, size=100.0),
    ]

    report = audit([WEB, DB], images, PRICE, now=NOW)

    web = next(s for s in report.servers if s.server == "web").holdings
    assert (web.count, web.size_gb, web.monthly) == (2, 25.5, Decimal("0.2805"))
    assert web.last_drill == date(2026, 11, 27)
    db = next(s for s in report.servers if s.server == "db").holdings
    assert db.last_drill is None
    assert report.totals.count == 3
    assert report.totals.monthly == Decimal("1.3805")
    assert money(report.totals.monthly, "EUR") == "1.38 EUR"


def test_snapshots_of_deleted_servers_are_listed_apart_with_their_cost() -> None:
    gone = ServerRef(99, "old-app", "running")
    images = [snap(10, WEB, 1), snap(90, gone, 400, size=40.0), snap(91, gone, 300, size=40.0)]

    report = audit([WEB], images, PRICE, now=NOW)

    assert [(o.server_id, o.server, o.holdings.count) for o in report.orphans] == [
        (99, "old-app", 2)
    ]
    assert report.orphans[0].holdings.monthly == Decimal("0.88")
    assert report.totals.count == 3
    assert report.to_dict()["orphans"][0]["image_ids"] == [90, 91]


def test_an_hsnap_snapshot_without_created_from_belongs_to_the_server_its_label_names() -> None:
    report = audit([WEB], [snap(10, WEB, 1, from_id=None)], PRICE, now=NOW)

    assert report.servers[0].newest_image_id == 10
    assert report.orphans == ()


def test_table_and_summary_name_the_breaching_servers_and_the_totals() -> None:
    gone = ServerRef(99, "old-app", "running")
    report = audit(
        [WEB, DB, NEW], [snap(10, WEB, 1), snap(20, DB, 50), snap(90, gone, 9)], PRICE, now=NOW
    )

    rows = {r["server"]: r for r in audit_report.rows(report)}
    assert rows["web"]["RPO"] == "ok"
    assert rows["db"]["RPO"] == "BREACH"
    assert rows["db"]["age"] == "2d"
    assert rows["new"]["RPO"] == "NEVER"
    assert rows["old-app (deleted)"]["cost/month"] == "0.11"
    assert "EUR/month" in audit_report.artifact_rows(report)[0], "the currency, in the header"
    assert rows["TOTAL"]["snapshots"] == "3"
    assert audit_report.verdict(report).endswith(": db, new")
    text = audit_report.markdown(report)
    assert "**db**" in text
    assert "Never snapshotted: new." in text
    assert "0.33 EUR a month" in text


def test_project_cost_counts_only_hsnaps_snapshots() -> None:
    images = [snap(10, WEB, 1, size=10.0), snap(11, WEB, 1, size=30.0, hsnap=False)]

    cost = project_cost(images, PRICE)

    assert (cost.count, cost.size_gb, cost.monthly) == (1, 10.0, Decimal("0.11"))
    assert "0.11 EUR a month" in cost.describe()
