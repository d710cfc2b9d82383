"""Built-in scenarios (named seed worlds) and the loader for scenario files (YAML or JSON)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hcloud_sim.errors import validation_problems
from hcloud_sim.scenario_wired import wired
from hcloud_sim.seed import check_project
from hcloud_sim.spec import Scenario

HSNAP_LABELS = {"managed-by": "hsnap"}


def demo() -> dict[str, Any]:
    """A dozen varied servers; several locked for a while; IPv6-only, no public IP, off."""
    return {
        "name": "demo",
        "description": "a small varied fleet: locked servers, IPv6-only, private-only, one off",
        "time_scale": 10.0,
        "projects": [
            {
                "name": "demo",
                "action_durations": {"create_image": [60, 180]},
                "servers": [
                    {"name": "web-1", "labels": {"env": "prod", "role": "web"}},
                    {
                        "name": "web-2",
                        "labels": {"env": "prod", "role": "web"},
                        "running_actions": [
                            {"command": "change_server_type", "duration": 90, "elapsed": 20}
                        ],
                    },
                    {"name": "web-3", "labels": {"env": "prod", "role": "web"}, "location": "nbg1"},
                    {
                        "name": "db-1",
                        "labels": {"env": "prod", "role": "db"},
                        "server_type": "ccx13",
                        "disk": 80,
                        "running_actions": [{"command": "create_image", "duration": 120}],
                    },
                    {
                        "name": "db-2",
                        "labels": {"env": "prod", "role": "db"},
                        "server_type": "ccx13",
                        "disk": 80,
                    },
                    {
                        "name": "cache-1",
                        "labels": {"env": "prod", "role": "cache"},
                        "running_actions": [{"command": "reboot_server", "duration": 45}],
                    },
                    {
                        "name": "edge-v6",
                        "labels": {"env": "prod", "role": "edge"},
                        "ipv4": False,
                        "location": "hel1",
                    },
                    {
                        "name": "internal-1",
                        "labels": {"env": "prod", "role": "worker"},
                        "ipv4": False,
                        "ipv6": False,
                        "private_network": True,
                    },
                    {
                        "name": "batch-1",
                        "labels": {"env": "prod", "role": "worker"},
                        "status": "off",
                    },
                    {
                        "name": "arm-1",
                        "labels": {"env": "staging", "role": "web"},
                        "server_type": "cax11",
                    },
                    {
                        "name": "staging-1",
                        "labels": {"env": "staging", "role": "web"},
                        "server_type": "cpx11",
                        "location": "ash",
                    },
                    {
                        "name": "legacy-1",
                        "labels": {"env": "prod", "role": "legacy"},
                        "protection": {"delete": True, "rebuild": True},
                        "image": "debian-12",
                    },
                ],
                "images": [
                    {"description": "web-1 before upgrade", "server": "web-1", "age": "40d"},
                    {
                        "description": "db-1 manual",
                        "server": "db-1",
                        "age": "3d",
                        "protected": True,
                    },
                    {
                        "description": "web-1-20261101",
                        "server": "web-1",
                        "age": "9d",
                        "labels": {**HSNAP_LABELS, "hsnap/server-id": "100001"},
                    },
                    {
                        "description": "nightly backup",
                        "type": "backup",
                        "server": "db-2",
                        "age": "1d",
                    },
                ],
            }
        ],
    }


def faults() -> dict[str, Any]:
    """The failure paths: a lock that never ends, a failing snapshot, bursts of 5xx, a bad guest."""
    return {
        "name": "faults",
        "description": "an endless lock, a failing snapshot action, 5xx bursts, an ACPI-deaf guest",
        "time_scale": 10.0,
        "projects": [
            {
                "name": "faults",
                "action_durations": {"create_image": [30, 90]},
                "servers": [
                    {"name": "ok-1", "labels": {"env": "prod"}},
                    {"name": "ok-2", "labels": {"env": "prod"}},
                    {
                        "name": "stuck-1",
                        "labels": {"env": "prod"},
                        "running_actions": [{"command": "rebuild_server", "duration": 30 * 86400}],
                    },
                    {
                        "name": "broken-snap",
                        "labels": {"env": "prod"},
                        "snapshot_error": {
                            "code": "action_failed",
                            "message": "image creation failed: disk read error",
                        },
                    },
                    {"name": "deaf-1", "labels": {"env": "prod"}, "acpi": "ignore"},
                    {
                        "name": "locked-briefly",
                        "labels": {"env": "prod"},
                        "running_actions": [{"command": "reboot_server", "duration": 40}],
                    },
                ],
                "faults": [
                    {"method": "GET", "path": "/servers*", "code": "unavailable", "count": 2},
                    {
                        "method": "POST",
                        "path": "/servers/*/actions/create_image",
                        "code": "bad_gateway",
                        "count": 1,
                    },
                    {
                        "method": "GET",
                        "path": "/actions*",
                        "code": "server_error",
                        "probability": 0.1,
                        "seed": 7,
                        "count": 5,
                    },
                ],
            }
        ],
    }


def large(servers: int = 300) -> dict[str, Any]:
    """Hundreds of servers across roles and locations, 10 % locked by a running action."""
    roles = ["web", "api", "db", "worker", "cache"]
    locations = ["fsn1", "nbg1", "hel1"]
    fleet = []
    for i in range(1, servers + 1):
        spec: dict[str, Any] = {
            "name": f"node-{i:04d}",
            "labels": {"env": "prod" if i % 4 else "staging", "role": roles[i % len(roles)]},
            "location": locations[i % len(locations)],
            "snapshot_duration": [120, 900],
        }
        if i % 10 == 0:
            spec["running_actions"] = [{"command": "change_server_type", "duration": [60, 300]}]
        fleet.append(spec)
    return {
        "name": "large",
        "description": f"{servers} servers, 10 % locked at the start",
        "time_scale": 60.0,
        "projects": [{"name": "large", "servers": fleet}],
    }


BUILTINS: dict[str, Callable[[], dict[str, Any]]] = {
    "demo": demo,
    "faults": faults,
    "large": large,
    "wired": wired,
    "empty": lambda: {"name": "empty", "description": "one project, no servers"},
}


class ScenarioError(ValueError):
    """A scenario name, file or document that cannot be used; the message says why.

    A message names the file and what is wrong (a field's location, a line and column), never
    the file's content: the control API hands these messages to whoever asked.
    """


def load_scenario(ref: str | Path | dict[str, Any] | Scenario) -> Scenario:
    """A built-in name, a path to a YAML/JSON file, a parsed document or a Scenario."""
    if isinstance(ref, Scenario):
        return ref
    if isinstance(ref, dict):
        return _validate(ref, "inline scenario")
    if isinstance(ref, str) and ref in BUILTINS:
        return _validate(BUILTINS[ref](), f"built-in scenario {ref!r}")
    path = Path(ref)
    if not path.is_file():
        raise ScenarioError(
            f"no scenario {str(ref)!r}: give a file (.yaml/.json) or one of {', '.join(BUILTINS)}"
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (UTF-8 YAML or JSON)") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML/JSON{_where(exc)}") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc.strerror or 'error'})") from None
    if not isinstance(document, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with a 'projects' list")
    document.setdefault("name", path.stem)
    return _validate(document, str(path))


@dataclass(frozen=True)
class ScenarioAccess:
    """Which scenarios the control API may load: the operator's choice, not the caller's.

    Args:
        files: files given on the command line (or to ``SimulatorServer``).
        dirs: directories whose files (at any depth, symlinks resolved) may be loaded.
    """

    files: frozenset[Path] = frozenset()
    dirs: tuple[Path, ...] = ()

    @classmethod
    def of(
        cls, files: Iterable[str | Path] = (), dirs: Iterable[str | Path] = ()
    ) -> ScenarioAccess:
        return cls(
            frozenset(Path(f).resolve() for f in files), tuple(Path(d).resolve() for d in dirs)
        )

    def load(self, ref: str | dict[str, Any]) -> Scenario:
        """Load a built-in, an inline document, or an allowed file; refuse any other path."""
        if isinstance(ref, dict) or ref in BUILTINS:
            return load_scenario(ref)
        try:
            path = Path(ref).resolve()
        except (ValueError, OSError):  # a NUL byte, a name too long for the system
            path = None
        if path is not None and (
            path in self.files or any(path.is_relative_to(d) for d in self.dirs)
        ):
            return load_scenario(path)
        raise ScenarioError(
            f"scenario {ref!r} is not a built-in ({', '.join(BUILTINS)}), nor a file given on "
            "the command line or below a directory allowed with --scenario-dir"
        )


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ""
    return f" at line {mark.line + 1}, column {mark.column + 1}"


def _validate(document: dict[str, Any], where: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(document)
        for project in scenario.projects:
            check_project(project, scenario.catalog)
    except ValidationError as exc:
        problems = "; ".join(f"{loc}: {msg}" for loc, msg in validation_problems(exc))
        raise ScenarioError(f"{where}: {problems}") from None
    except ValueError as exc:  # server types, locations, labels, names the schema cannot check
        raise ScenarioError(f"{where}: {exc}") from None
    return scenario
