"""Where the API token may travel: the endpoint's host, decided exactly as the HTTP client does.

The token goes in an ``Authorization`` header, so over plain http it may only go to a loopback
address (a local simulator), and never through a proxy that is not on loopback. URL parsers
disagree on odd forms (``http://a\\@b/``: ``urllib.parse`` says host ``b``, urllib3 says ``a``),
so hsnap refuses every form where they could disagree -- userinfo, backslashes, whitespace,
control or non-ASCII characters, a query or fragment -- and then takes the host from the very
parsing ``requests`` does before it connects (``PreparedRequest.prepare_url``, then ``urlparse``).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies, prepend_scheme_if_needed, select_proxy
from urllib3.util import parse_url

from hsnap.errors import ConfigError

#: characters no endpoint needs and that URL parsers read differently
_AMBIGUOUS = frozenset("\\@ \t\r\n\x0b\x0c")
#: a path the SDK appends to the endpoint: the host must not change when it does
_PROBE_PATH = "/servers"


def check_endpoint(endpoint: str) -> None:
    """Raise ConfigError unless the token may be sent to ``endpoint`` (and through any proxy).

    https goes anywhere; plain http only to a loopback address, and not through a proxy from
    ``HTTP_PROXY``/``ALL_PROXY`` that is not on loopback (``NO_PROXY`` is honoured, as requests
    honours it).
    """
    scheme, host = client_host(endpoint)
    if scheme == "https":
        return
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to send the API token over plain http to {host}: "
            "use https, or a loopback address for a local simulator"
        )
    proxy = proxy_host(endpoint)
    if proxy is not None and not is_loopback(proxy):
        raise ConfigError(
            f"refusing to send the API token in plain text through the proxy {proxy} "
            f"(HTTP_PROXY/ALL_PROXY): add {host} to NO_PROXY, or unset the proxy"
        )


def client_host(url: str) -> tuple[str, str]:
    """The scheme and host ``requests`` will connect to for ``url`` (lower case, no brackets).

    Raises ConfigError for any URL whose host is ambiguous or that is not a plain http(s) URL.
    """
    unclear = ConfigError(
        f"HCLOUD_ENDPOINT {url!r} is not an http(s) URL of the form https://host[:port]/path"
    )
    if not url.isascii() or not url.isprintable() or _AMBIGUOUS & set(url):
        raise ConfigError(
            f"HCLOUD_ENDPOINT {url!r} is ambiguous (userinfo '@', a backslash, whitespace or "
            "non-ASCII characters): give a plain https://host[:port]/path"
        )
    try:
        loose = urlsplit(url)
        strict = parse_url(url)
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url.rstrip("/") + _PROBE_PATH, None)
        final = urlsplit(prepared.url or "")
        final.port  # noqa: B018 -- raises ValueError for a port out of range
    except (ValueError, requests.RequestException):
        raise unclear from None
    if loose.scheme not in ("http", "https") or not loose.hostname or loose.query or loose.fragment:
        raise unclear
    hosts = {loose.hostname, (strict.host or "").lower().strip("[]"), final.hostname}
    if len(hosts) != 1 or strict.auth or final.username is not None:
        raise ConfigError(f"HCLOUD_ENDPOINT {url!r} is ambiguous: parsers disagree on its host")
    return loose.scheme, loose.hostname


def proxy_host(url: str) -> str | None:
    """The host of the proxy ``requests`` would use for ``url`` from the environment.

    None when it connects directly; the proxy URL is read as urllib3 reads it when it connects
    (``ProxyManager``), and one it cannot read counts as a remote proxy.
    """
    proxy = select_proxy(url, get_environ_proxies(url, no_proxy=None))
    if not proxy:
        return None
    try:
        host = parse_url(prepend_scheme_if_needed(proxy, "http")).host  # type: ignore[no-untyped-call]
    except ValueError:
        host = None
    return (host or "an unreadable proxy URL").lower().strip("[]")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
