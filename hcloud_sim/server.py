"""Run the simulator on a loopback port: in a thread (``SimulatorServer``) or in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from hcloud_sim.control import ControlGate
from hcloud_sim.http import SimHTTPServer
from hcloud_sim.scenarios import BUILTINS, ScenarioAccess, load_scenario
from hcloud_sim.spec import Scenario
from hcloud_sim.state import Simulator


class SimulatorServer:
    """The simulator serving HTTP in a background thread.

    >>> with SimulatorServer("demo", time_scale=60) as sim:   # doctest: +SKIP
    ...     client = hcloud.Client(token="sim-token", api_endpoint=sim.url)

    Args:
        scenario: a built-in name, a scenario file, a parsed document or a ``Scenario``.
        host: address to bind; keep it on loopback.
        port: 0 picks a free port.
        time_scale: simulated seconds per real second; overrides the scenario's.
        control_token: when set, the control API (``/_sim``) answers only requests with
            ``Authorization: Bearer <control_token>``.
        scenario_dirs: directories whose scenario files ``POST /_sim/reset`` may load, besides
            the built-ins and the scenario file given here.
    """

    def __init__(
        self,
        scenario: str | Path | dict[str, Any] | Scenario = "demo",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float | None = None,
        control_token: str | None = None,
        scenario_dirs: Iterable[str | Path] = (),
    ) -> None:
        self.state = Simulator(load_scenario(scenario), time_scale=time_scale)
        given = [scenario] if isinstance(scenario, str | Path) and scenario not in BUILTINS else []
        gate = ControlGate(control_token, ScenarioAccess.of(given, scenario_dirs))
        self._httpd = SimHTTPServer((host, port), self.state, gate)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port``: the control API lives at ``base_url + '/_sim'``."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The API endpoint, as hcloud-python's ``api_endpoint`` and ``HCLOUD_ENDPOINT`` want it."""
        return self.base_url + "/v1"

    def start(self) -> SimulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                # stop() waits up to one poll: keep it short, tests start and stop many servers
                kwargs={"poll_interval": 0.01},
                name=f"hcloud-sim:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
