"""HTTP front of the simulator: parse, authenticate, rate-limit, apply faults, dispatch, write.

One request path for every method on every path, and one writer for the envelope and the headers
the real API always sends (``Content-Type``, ``X-Correlation-Id``, ``RateLimit-*``). Whatever a
client sends -- an unknown method, a malformed request line, an unusable ``Content-Length``, JSON
nested past the parser's depth, an id past int64 -- it gets an answer in the API's error envelope,
never HTML and never a closed connection (only a fault rule closes one). ``/_sim/...`` is the
control plane beside the API (see ``control.py``): no API token, no rate limit, no faults.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hcloud_sim.control import ControlGate, handle_control
from hcloud_sim.errors import ApiError
from hcloud_sim.faults import FaultRule
from hcloud_sim.query import Reply, Request, Route
from hcloud_sim.routes import allowed_methods, resolve
from hcloud_sim.state import Simulator
from hcloud_sim.wire import check_field_lengths, check_ids, content_length, json_object

log = logging.getLogger(__name__)


class _DropConnectionError(Exception):
    """The connection is to be closed without an answer (a fault rule said so)."""


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], sim: Simulator, gate: ControlGate | None = None
    ) -> None:
        self.sim = sim
        self.gate = gate if gate is not None else ControlGate()
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

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers 501 in HTML when there is none: every
        # method (TRACE, CONNECT, HEAD, OPTIONS, made-up ones) takes the one request path instead
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors http.server finds itself (bad request line, 414, 431, 505): in the envelope."""
        del explain
        if self.request_version == self.default_request_version:
            # the request line was not understood: answer as HTTP/1.0, with a status line and
            # headers, not as HTTP/0.9 (a bare body no HTTP/1.x client can read)
            self.request_version = "HTTP/1.0"
        self._answer_and_close(
            ApiError(
                "invalid_input" if code < 500 else "server_error",
                message or HTTPStatus(code).phrase,
                status=code,
            )
        )

    # -- request path ----------------------------------------------------------------------

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            raw = self._read_body()
        except ApiError as exc:  # the body was not read: the connection cannot be reused
            self._answer_and_close(exc)
            return
        if url.path == "/_sim" or url.path.startswith("/_sim/"):
            self._write(*self._control(url.path, query, raw))
            return
        headers: dict[str, str] = {}
        endpoint = _template(self.command, url.path)  # counted under it even when refused early
        try:
            reply = self._api(url.path, query, raw, headers)
        except _DropConnectionError:
            self._count(endpoint, 0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception:  # a bug must still get an answer, not a closed connection
            log.exception("unexpected error answering %s %s", self.command, url.path)
            reply = Reply(500, ApiError("server_error").envelope())
        self._count(endpoint, reply.status)
        self._write(reply.status, reply.body, {**headers, **reply.headers})

    def _answer_and_close(self, exc: ApiError) -> None:
        """Answer and close: after a request the server could not parse, the stream is lost."""
        self.close_connection = True
        self._write(exc.status, exc.envelope(), {**self._anonymous_rate(), "Connection": "close"})

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "identity").lower() != "identity":
            raise ApiError(
                "invalid_input",
                "chunked request bodies are not supported: send Content-Length",
                status=411,
            )
        length = content_length(self.headers.get("Content-Length"))
        return self.rfile.read(length) if length else b""

    def _control(
        self, path: str, query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        try:
            self.server.gate.admit(self.headers.get("Host"), self.headers.get("Authorization"))
            return handle_control(
                self.server.sim,
                self.server.gate,
                method=self.command,
                path=path,
                query=query,
                raw=raw,
            )
        except ApiError as exc:
            return exc.status, exc.envelope(), {}
        except Exception:  # a bug must still get an answer, not a closed connection
            log.exception("unexpected error answering %s %s", self.command, path)
            return 500, ApiError("server_error").envelope(), {}

    def _api(
        self, path: str, query: dict[str, list[str]], raw: bytes, headers: dict[str, str]
    ) -> Reply:
        sim = self.server.sim
        try:
            # admitted first, like /v1/<unknown>: every answer carries the RateLimit headers
            project, readonly = self._admit(headers)
            if not (path == "/v1" or path.startswith("/v1/")):
                raise ApiError("not_found", f"no such endpoint: {path}")
            api_path = path[3:] or "/"
            route, params = _resolve(self.command, api_path, headers)
            check_ids(params)
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
            return Reply(exc.status, exc.envelope())
        return reply

    def _anonymous_rate(self) -> dict[str, str]:
        """The RateLimit headers of an answer that no project's bucket paid for."""
        now = self.server.sim.clock.now()
        return {
            "RateLimit-Limit": "3600",
            "RateLimit-Remaining": "3600",
            "RateLimit-Reset": str(int(now)),
        }

    def _admit(self, headers: dict[str, str]) -> Any:
        """Authenticate and spend one request from the project's bucket; fills rate headers."""
        sim = self.server.sim
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        with sim.lock:
            sim.settle()
            try:
                project, readonly = sim.authenticate(token)
            except ApiError:
                headers.update(self._anonymous_rate())
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
        if data and self.command != "HEAD":  # a HEAD answer has headers only, by definition
            self.wfile.write(data)


def _template(method: str, path: str) -> str:
    """The route template a request is counted under in ``/_sim/stats`` (``unknown`` if none)."""
    if not path.startswith("/v1/"):
        return "unknown"
    try:
        return resolve(method, path[3:])[0].template
    except ApiError:
        return "unknown"


def _resolve(method: str, path: str, headers: dict[str, str]) -> tuple[Route, dict[str, str]]:
    """The route for a request; a 405 carries ``Allow`` with the methods the path takes."""
    try:
        return resolve(method, path)
    except ApiError as exc:
        if exc.code == "method_not_allowed":
            headers["Allow"] = ", ".join(allowed_methods(path))
        raise


def _parse_body(raw: bytes, allowed: frozenset[str]) -> dict[str, Any]:
    body = json_object(raw)
    for name in body:
        if name not in allowed:
            raise ApiError(
                "invalid_input",
                f"invalid input: unknown field name '{name}'",
                details={"fields": [{"name": name, "messages": ["unknown field"]}]},
            )
    check_field_lengths(body)
    return body
