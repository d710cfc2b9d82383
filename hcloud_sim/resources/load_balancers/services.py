"""A load balancer's services: checked, completed with the API's defaults, in the API's shape.

What a request leaves out is filled in as the API does: ports 80 (http) and 443 -> 80 (https),
a health check of the service's kind on the destination port every 15 s (timeout 10 s, 3
retries), sticky-session cookie ``HCLBSTICKY`` for 300 s, idle timeout 50 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources.kit import (
    as_bool,
    as_int,
    as_list,
    as_object,
    as_str,
    unknown_keys,
)

if TYPE_CHECKING:
    from hcloud_sim.project import Project

PROTOCOLS = ("tcp", "http", "https")
_FIELDS = ("protocol", "listen_port", "destination_port", "proxyprotocol", "health_check", "http")
_HTTP = (
    "cookie_name",
    "cookie_lifetime",
    "timeout_idle",
    "certificates",
    "redirect_http",
    "sticky_sessions",
)
_CHECK = ("protocol", "port", "interval", "timeout", "retries", "http")
_CHECK_HTTP = ("domain", "path", "response", "status_codes", "tls")


def _port(value: Any, name: str) -> int:
    return as_int(value, name, 1, 65535)


def _health_check(value: Any, service: str, destination: int, where: str) -> dict[str, Any]:
    body = as_object(value if value is not None else {}, where)
    unknown_keys(body, _CHECK, where)
    protocol = body.get("protocol") or ("tcp" if service == "tcp" else "http")
    if protocol not in ("tcp", "http"):
        raise invalid_field(f"{where}.protocol", "must be one of tcp, http")
    check: dict[str, Any] = {
        "protocol": protocol,
        "port": _port(body.get("port", destination), f"{where}.port"),
        "interval": as_int(body.get("interval", 15), f"{where}.interval", 3, 60),
        "timeout": as_int(body.get("timeout", 10), f"{where}.timeout", 1, 60),
        "retries": as_int(body.get("retries", 3), f"{where}.retries", 1, 5),
    }
    if protocol == "http":
        http = as_object(body.get("http") or {}, f"{where}.http")
        unknown_keys(http, _CHECK_HTTP, f"{where}.http")
        domain = http.get("domain")
        codes = as_list(http.get("status_codes", ["2??", "3??"]), f"{where}.http.status_codes")
        check["http"] = {
            "domain": None if domain is None else as_str(domain, f"{where}.http.domain"),
            "path": as_str(http.get("path", "/"), f"{where}.http.path") or "/",
            "response": as_str(http.get("response") or "", f"{where}.http.response"),
            "status_codes": [
                as_str(c, f"{where}.http.status_codes.{i}") for i, c in enumerate(codes)
            ],
            "tls": as_bool(http.get("tls", False), f"{where}.http.tls"),
        }
    return check


def _http(value: Any, protocol: str, where: str, certificate: Any) -> dict[str, Any]:
    body = as_object(value if value is not None else {}, where)
    unknown_keys(body, _HTTP, where)
    certs = [
        as_int(c, f"{where}.certificates.{i}", 1)
        for i, c in enumerate(as_list(body.get("certificates") or [], f"{where}.certificates"))
    ]
    if protocol == "https" and not certs:
        raise invalid_field(f"{where}.certificates", "an https service needs a certificate")
    if protocol == "http" and (certs or body.get("redirect_http")):
        raise invalid_field(where, "certificates and redirect_http are for https services")
    for cert_id in certs:
        certificate(cert_id)
    cookie = as_str(body.get("cookie_name", "HCLBSTICKY"), f"{where}.cookie_name")
    if not 1 <= len(cookie) <= 100:
        raise invalid_field(f"{where}.cookie_name", "must be 1 to 100 characters")
    return {
        "cookie_name": cookie,
        "cookie_lifetime": as_int(
            body.get("cookie_lifetime", 300), f"{where}.cookie_lifetime", 30, 86400
        ),
        "timeout_idle": as_int(body.get("timeout_idle", 50), f"{where}.timeout_idle", 30, 300),
        "certificates": certs,
        "redirect_http": as_bool(body.get("redirect_http", False), f"{where}.redirect_http"),
        "sticky_sessions": as_bool(body.get("sticky_sessions", False), f"{where}.sticky_sessions"),
    }


def parse(project: Project, value: Any, where: str = "service") -> dict[str, Any]:
    """A complete service from a request body (or a stored service merged with an update)."""
    from hcloud_sim.resources import certificates  # noqa: PLC0415 -- sibling family

    body = as_object(value, where)
    unknown_keys(body, _FIELDS, where)
    protocol = body.get("protocol")
    if protocol not in PROTOCOLS:
        raise invalid_field(f"{where}.protocol", f"must be one of {', '.join(PROTOCOLS)}")
    defaults = {"tcp": (None, None), "http": (80, 80), "https": (443, 80)}[protocol]
    listen = body.get("listen_port", defaults[0])
    destination = body.get("destination_port", defaults[1])
    if listen is None:
        raise invalid_field(f"{where}.listen_port", "is required for a tcp service")
    if destination is None:
        raise invalid_field(f"{where}.destination_port", "is required for a tcp service")
    service: dict[str, Any] = {
        "protocol": protocol,
        "listen_port": _port(listen, f"{where}.listen_port"),
        "destination_port": _port(destination, f"{where}.destination_port"),
        "proxyprotocol": as_bool(body.get("proxyprotocol", False), f"{where}.proxyprotocol"),
    }
    service["health_check"] = _health_check(
        body.get("health_check"), protocol, service["destination_port"], f"{where}.health_check"
    )
    if protocol == "tcp":
        if body.get("http") is not None:
            raise invalid_field(f"{where}.http", "is only for http and https services")
    else:
        service["http"] = _http(
            body.get("http"), protocol, f"{where}.http", lambda i: certificates.get(project, i)
        )
    return service


def merged(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A stored service with an ``update_service`` body laid over it (nested objects merged)."""
    out = dict(stored)
    for key, value in update.items():
        if key in ("health_check", "http") and isinstance(value, dict):
            base = dict(stored.get(key) or {})
            for sub, sub_value in value.items():
                if sub == "http" and isinstance(sub_value, dict):
                    base[sub] = {**(base.get("http") or {}), **sub_value}
                else:
                    base[sub] = sub_value
            out[key] = base
        else:
            out[key] = value
    if out.get("protocol") == "tcp" and "http" not in update:
        out.pop("http", None)
    if out.get("protocol") == "http" and isinstance(out.get("http"), dict):
        given: dict[str, Any] = update["http"] if isinstance(update.get("http"), dict) else {}
        out["http"] = {
            k: v
            for k, v in out["http"].items()
            if k not in ("certificates", "redirect_http") or k in given
        }
    return out


def check_ports_free(services: list[dict[str, Any]], port: int) -> None:
    if any(s["listen_port"] == port for s in services):
        raise ApiError(
            "source_port_already_used",
            f"listen port {port} is already used by another service",
            status=412,
        )
