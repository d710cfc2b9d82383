"""HTTP front of the simulator: parse, authenticate, rate-limit, apply faults, dispatch, write.

One request path for every ``/v1`` endpoint, and one writer for the envelope and the headers the
real API always sends (``Content-Type``, ``X-Correlation-Id``, ``RateLimit-*``). ``/_sim/...`` is
the control plane beside the API (see ``control.py``): no token, no rate limit, no faults.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hcloud_sim.control import handle_control
from hcloud_sim.errors import ApiError
from hcloud_sim.faults import FaultRule
from hcloud_sim.query import Reply, Request
from hcloud_sim.routes import resolve
from hcloud_sim.state import Simulator

log = logging.getLogger(__name__)


class _DropConnectionError(Exception):
    """The connection is to be closed without an answer (a fault rule said so)."""


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        super().__init__(address, SimRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on a slow answer (its timeout) is not the simulator's error."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # broken pipe, reset by peer
            return
        super().handle_error(request, client_address)


class SimRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, a keep-alive client's delayed ACK
    # held every answer back by ~40 ms
    disable_nagle_algorithm = True
    server: SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    # -- request path ----------------------------------------------------------------------

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/_sim"):
            status, body = handle_control(self.server.sim, self.command, url.path, query, raw)
            self._write(status, body, {})
            return
        sim = self.server.sim
        headers: dict[str, str] = {}
        endpoint = _template(self.command, url.path)  # counted under it even when refused early
        try:
            # admitted first, like /v1/<unknown>: every answer carries the RateLimit headers
            project, readonly = self._admit(query, headers)
            if not (url.path == "/v1" or url.path.startswith("/v1/")):
                raise ApiError("not_found", f"no such endpoint: {url.path}")
            api_path = url.path[3:] or "/"
            route, params = resolve(self.command, api_path)
            endpoint = route.template
            if readonly and self.command != "GET":
                raise ApiError(
                    "token_readonly",
                    "this token is read-only: it may only GET; "
                    "create a Read & Write API token to change anything",
                )
            fault = project.faults.pick(self.command, api_path)
            self._fault(fault, "before")
            body = _parse_body(raw, route.fields)
            with sim.lock:
                sim.settle()
                now = sim.clock.now()
                reply = route.handler(
                    Request(self.command, api_path, query, body, project, params, now)
                )
            self._fault(fault, "after")
        except ApiError as exc:
            reply = Reply(exc.status, exc.envelope())
        except _DropConnectionError:
            self._count(endpoint, 0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._count(endpoint, reply.status)
        self._write(reply.status, reply.body, {**headers, **reply.headers})

    def _admit(self, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        """Authenticate and spend one request from the project's bucket; fills rate headers."""
        del query
        sim = self.server.sim
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        with sim.lock:
            sim.settle()
            try:
                project, readonly = sim.authenticate(token)
            except ApiError:
                headers.update(
                    {
                        "RateLimit-Limit": "3600",
                        "RateLimit-Remaining": "3600",
                        "RateLimit-Reset": str(int(sim.clock.now())),
                    }
                )
                raise
            now = sim.clock.now()
            admitted = project.bucket.take(now)
            headers.update(
                {
                    "RateLimit-Limit": str(project.bucket.capacity),
                    "RateLimit-Remaining": str(project.bucket.remaining(now)),
                    "RateLimit-Reset": str(project.bucket.reset_at(now)),
                }
            )
        if not admitted:
            raise ApiError(
                "rate_limit_exceeded",
                f"limit of {project.bucket.capacity} requests per hour reached",
            )
        return project, readonly

    def _fault(self, fault: FaultRule | None, when: str) -> None:
        if fault is None:
            return
        if when == "before" and fault.latency > 0:
            time.sleep(self.server.sim.clock.real_seconds(fault.latency))
        if fault.when != when:
            return
        if fault.drop:
            raise _DropConnectionError
        if fault.code is not None:
            raise fault.error()

    def _count(self, endpoint: str, status: int) -> None:
        with self.server.sim.lock:
            self.server.sim.stats[(self.command, endpoint, status)] += 1

    def _write(self, status: int, body: dict[str, Any] | None, headers: dict[str, str]) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        # A bodiless answer (204 from DELETE /images/{id}) has no content type: hcloud-go 1.x
        # parses any application/json body and fails on an empty one.
        if body is not None:
            self.send_header("Content-Type", "application/json")
        if status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Correlation-Id", secrets.token_hex(8))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


def _template(method: str, path: str) -> str:
    """The route template a request is counted under in ``/_sim/stats`` (``unknown`` if none)."""
    if not path.startswith("/v1/"):
        return "unknown"
    try:
        return resolve(method, path[3:])[0].template
    except ApiError:
        return "unknown"


def _parse_body(raw: bytes, allowed: frozenset[str]) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("json_error", f"invalid JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError("json_error", "request body must be a JSON object")
    for name in body:
        if name not in allowed:
            raise ApiError(
                "invalid_input",
                f"invalid input: unknown field name '{name}'",
                details={"fields": [{"name": name, "messages": ["unknown field"]}]},
            )
    return body
