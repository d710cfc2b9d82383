"""Where the token may go (endpoint host as requests decides it, proxies) and the time scale."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr
from requests.utils import select_proxy

from hsnap.clock import Clock
from hsnap.endpoint import is_loopback
from hsnap.errors import ConfigError
from hsnap.settings import Settings, load_settings

SECRET = "hsnap-settings-test-token-4c1e"  # searched for in messages
REMOTE = "10.0.0.7"


def connects_to(endpoint: str) -> str:
    """The host requests opens a connection to for a call the SDK makes on ``endpoint``."""
    prepared = requests.Request("GET", endpoint.rstrip("/") + "/servers").prepare()
    return urlsplit(prepared.url).hostname or ""


def settings_for(endpoint: str) -> Settings:
    return Settings(token=SecretStr(SECRET), endpoint=endpoint)


# -- the endpoint's host, as the HTTP client decides it ----------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://{REMOTE}:8080\\@127.0.0.1:8080/v1",  # the issue's form: urllib3 reads REMOTE
        f"http://{REMOTE}\\@127.0.0.1/v1",
        f"http://127.0.0.1:80\\@{REMOTE}/v1",
        f"http://127.0.0.1:8080@{REMOTE}/v1",
        "http://user:secret@127.0.0.1:8080/v1",
        f"http://{REMOTE}#@127.0.0.1/v1",
        f"http://{REMOTE}?@127.0.0.1/v1",
        f"http://{REMOTE}%5C@127.0.0.1/v1",
        f"http://127.0.0.1\t@{REMOTE}/v1",
        f"http://127.0.0.1 @{REMOTE}/v1",
        f"http://[::1]@{REMOTE}/v1",
        "http://\u2460\u2461\u2466.0.0.1/v1",  # circled digits: IDNA maps them to 127
        "http://127.0.0.1\n/v1",
        "http://127.0.0.1/v1?next=http://x",
        "http://127.0.0.1/v1#frag",
    ],
)
def test_ambiguous_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError, match=r"HCLOUD_ENDPOINT|plain http") as info:
        settings_for(endpoint)
    assert SECRET not in str(info.value)


def test_the_issue_form_would_really_reach_the_remote_host() -> None:
    """Why the form above is dangerous: urllib's split says loopback, requests connects away."""
    endpoint = f"http://{REMOTE}:8080\\@127.0.0.1:8080/v1"
    assert urlsplit(endpoint).hostname == "127.0.0.1"
    assert connects_to(endpoint) == REMOTE


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8780/v1",
        "http://localhost:8780/v1/",
        "HTTP://LOCALHOST:8780/v1",
        "http://[::1]:8780/v1",
        "http://127.9.9.9/v1",
    ],
)
def test_accepted_http_endpoints_connect_to_loopback(endpoint: str) -> None:
    settings_for(endpoint)
    assert is_loopback(connects_to(endpoint))


@pytest.mark.parametrize(
    "endpoint", ["http://127.1/v1", "http://0x7f.0.0.1/v1", "http://127.0.0.1./v1"]
)
def test_odd_spellings_of_loopback_are_refused_rather_than_guessed(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        settings_for(endpoint)


def test_a_port_out_of_range_is_a_config_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        settings_for("http://127.0.0.1:99999/v1")


# -- proxies -----------------------------------------------------------------------------------

LOCAL = "http://127.0.0.1:8780/v1"


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def requests_proxy(endpoint: str) -> str | None:
    """The proxy a requests session (as the SDK's) picks for ``endpoint``, from the environment."""
    env = requests.Session().merge_environment_settings(endpoint, {}, None, None, None)
    proxy: str | None = select_proxy(endpoint + "/servers", env["proxies"])
    return proxy


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_plain_http_through_a_remote_proxy_is_refused(
    no_proxies: pytest.MonkeyPatch, variable: str
) -> None:
    no_proxies.setenv(variable, "http://proxy.example:3128")
    assert requests_proxy(LOCAL) is not None, "requests would send the token through it"
    with pytest.raises(ConfigError, match=r"through the proxy proxy\.example.*NO_PROXY"):
        settings_for(LOCAL)


@pytest.mark.parametrize(
    ("proxy", "no_proxy", "endpoint"),
    [
        ("http://proxy.example:3128", "127.0.0.1", LOCAL),
        ("http://proxy.example:3128", "localhost,127.0.0.1", "http://localhost:8780/v1"),
        ("http://127.0.0.1:3128", "", LOCAL),  # a proxy on loopback sees nothing new
        ("http://proxy.example:3128", "", "https://api.hetzner.cloud/v1"),  # a TLS tunnel
    ],
)
def test_no_proxy_a_local_proxy_and_https_are_fine(
    no_proxies: pytest.MonkeyPatch, proxy: str, no_proxy: str, endpoint: str
) -> None:
    no_proxies.setenv("HTTP_PROXY", proxy)
    no_proxies.setenv("HTTPS_PROXY", proxy)
    no_proxies.setenv("NO_PROXY", no_proxy)
    settings_for(endpoint)


def test_an_https_only_proxy_does_not_carry_plain_http(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert requests_proxy(LOCAL) is None
    settings_for(LOCAL)


# -- HSNAP_TIME_SCALE ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["inf", "nan", "0", "abc", "-1", "1e309", "-inf", "1e7"])
def test_bad_time_scales_are_refused(monkeypatch: pytest.MonkeyPatch, scale: str) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    monkeypatch.setenv("HSNAP_TIME_SCALE", scale)
    with pytest.raises(ConfigError, match=r"HSNAP_TIME_SCALE=.*use a number > 0"):
        load_settings(token_secret=None)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), 0.0])
def test_a_clock_refuses_a_scale_that_is_not_a_finite_positive_number(scale: float) -> None:
    with pytest.raises(ValueError, match="finite number > 0"):
        Clock(scale)


def test_settings_refuse_a_non_finite_scale() -> None:
    with pytest.raises(ValueError, match="finite"):
        Settings(token=SecretStr(SECRET), time_scale=float("inf"))


# -- the token, without starting Prefect ---------------------------------------------------------


def test_without_a_token_or_a_prefect_api_the_cli_check_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
    # no Prefect API configured (as without the session's test harness, which sets one)
    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(ConfigError, match=r"HCLOUD_TOKEN.*PREFECT_API_URL"),
    ):
        load_settings(may_start_prefect=False)


@pytest.mark.parametrize("token", ["two words", "line\nbreak", "t\u00f6ken"])
def test_a_token_that_cannot_go_in_a_header_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", token)
    with pytest.raises(ConfigError, match="copy again") as info:
        load_settings(token_secret=None)
    assert token not in str(info.value)


def test_a_token_with_a_trailing_newline_is_taken_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET + "\n")
    assert load_settings(token_secret=None).token.get_secret_value() == SECRET
