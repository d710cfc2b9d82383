"""The fleet report: one row per project, failures named by project and server."""

from __future__ import annotations

from hsnap.projects.fleet import ChildRun, fleet_row, fleet_verdict


def server(name: str, status: str = "succeeded", lock_wait: str = "0s") -> dict[str, str]:
    return {"server": name, "status": status, "lock wait": lock_wait}


def test_a_completed_project_counts_its_servers_and_lock_waits() -> None:
    child = ChildRun(
        "shop",
        "Completed",
        rows=[server("web-1"), server("web-2", lock_wait="1m30s"), server("db-1")],
        link="http://ui/runs/flow-run/1",
    )

    assert fleet_row(child) == {
        "project": "shop",
        "state": "Completed",
        "servers": "3",
        "succeeded": "3",
        "failed": "0",
        "lock waits": "1",
        "failed servers": "",
        "run": "http://ui/runs/flow-run/1",
    }
    assert fleet_verdict([child]) == "1 of 1 project(s) completed"


def test_failures_are_named_by_project_and_server() -> None:
    children = [
        ChildRun("shop", "Completed", rows=[server("web-1")]),
        ChildRun("blog", "Failed", rows=[server("app-1"), server("app-2", "failed")]),
        ChildRun("old", "Failed", message="listing servers: the API token is invalid\nmore"),
        ChildRun("crm", "Crashed", message="no heartbeat for 540 s: its worker died"),
    ]

    verdict = fleet_verdict(children)

    assert verdict == (
        "1 of 4 project(s) completed; failed: blog: app-2; "
        "old: Failed: listing servers: the API token is invalid; "
        "crm: Crashed: no heartbeat for 540 s: its worker died"
    )
    crashed = fleet_row(children[3])
    assert (crashed["state"], crashed["servers"], crashed["failed servers"]) == (
        "Crashed",
        "",  # it never reported: no counts rather than zeros
        "Crashed: no heartbeat for 540 s: its worker died",
    )


def test_no_project_says_how_to_add_one() -> None:
    assert "hsnap project add" in fleet_verdict([])
