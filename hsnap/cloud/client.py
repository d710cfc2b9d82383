"""The only module that imports ``hcloud``: typed verbs over the API, returning plain values.

- The SDK's own retry loop is switched off: it re-sends POSTs after a 504 (a duplicate snapshot)
  and sleeps up to a minute where hsnap has deadlines. hsnap retries idempotent reads here,
  reconciles writes in ``snapshot.py``, and leaves the rest to Prefect's task retries.
- Every request passes the project's ``RateGovernor`` (shared by all tasks in this process).
- API errors become hsnap errors whose messages say what to do; the token never appears in them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import hcloud
import requests
from hcloud.images import Image
from hcloud.servers import Server

from hsnap import __version__
from hsnap.clock import Clock
from hsnap.cloud import convert
from hsnap.cloud.governor import GovernedAdapter, governor_for
from hsnap.cloud.watcher import ActionWatcher, watcher_for
from hsnap.errors import GoneError, HsnapError, LockedError, PermanentError, TransientError
from hsnap.models import (
    ActionRef,
    ImagePrice,
    ImageRef,
    PriceList,
    ServerDetails,
    ServerRef,
    ServerTypeInfo,
)
from hsnap.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "conflict",
        "rate_limit_exceeded",
        "server_error",
        "bad_gateway",
        "unavailable",
        "timeout",
        "resource_unavailable",
        "service_error",
        "maintenance",
    }
)
_ADVICE = {
    "unauthorized": "the API token is invalid or missing: create an API token in the Hetzner "
    "Cloud Console (project > Security > API tokens) and set HCLOUD_TOKEN or the Secret block",
    "token_readonly": "the API token is read-only: create a Read & Write API token for this "
    "project (Security > API tokens) and use it instead",
    "forbidden": "the API token is not allowed to do this",
    "resource_limit_exceeded": "the project's snapshot quota is reached: delete old snapshots "
    "or ask Hetzner to raise the limit",
    "protected": "the resource is protected: remove its protection first",
}
READ_ATTEMPTS = 4
#: 429 answers to one call after which it gives up (the budget is not refilling)
MAX_429 = 30


class Cloud:
    """One Hetzner project, reached with one token."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.clock = clock or Clock(settings.time_scale)
        self.settings = settings
        self.endpoint = settings.endpoint
        self._client = hcloud.Client(
            token=settings.token.get_secret_value(),
            api_endpoint=settings.endpoint,
            application_name="hsnap",
            application_version=__version__,
            timeout=settings.http_timeout,
        )
        base = self._client._client
        if not hasattr(base, "_retry_max_retries"):  # pragma: no cover -- guards an SDK change
            raise RuntimeError("hcloud SDK changed: cannot switch off its POST retries")
        base._retry_max_retries = 0
        self.governor = governor_for(settings, self.clock)
        adapter = GovernedAdapter(self.governor)
        session = base._session
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        # requests reads the proxy and CA-bundle variables from the whole environment on every
        # request (a profiled 1000-server run spent about 8 % of its CPU there); every request
        # goes to the one endpoint, so read them once, as requests would, and keep them
        found = session.merge_environment_settings(settings.endpoint, {}, None, None, None)
        session.proxies, session.verify = found["proxies"], found["verify"]
        session.trust_env = False

    @property
    def watcher(self) -> ActionWatcher:
        """The project's shared action poller (one per process, its own HTTP session)."""
        return watcher_for(self.settings, lambda: Cloud(self.settings, self.clock))

    # -- error translation -------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, read: bool = True) -> T:
        """Run one API call; retry reads on transient errors; translate errors."""
        attempt = 0
        limited = 0
        while True:
            attempt += 1
            try:
                return fn()
            except hcloud.APIException as exc:
                error = translate(exc, what)
            except requests.RequestException as exc:
                error = TransientError(
                    f"{what}: no answer from {self.endpoint} ({type(exc).__name__})"
                )
                error.code = "connection"
            if error.code == "rate_limit_exceeded" and limited < MAX_429:
                limited += 1
                attempt -= 1
                self.governor.wait_for_token()
                continue  # a 429 was not carried out: safe to send again, reads and writes alike
            if not (read and error.transient) or attempt >= READ_ATTEMPTS:
                raise error
            log.info("%s; retrying (attempt %d of %d)", error, attempt + 1, READ_ATTEMPTS)
            self.clock.sleep(2.0 ** (attempt - 1))

    # -- servers -----------------------------------------------------------------------------

    def list_servers(self, label_selector: str | None = None) -> list[ServerRef]:
        """Every server (all pages), optionally filtered by a label selector."""
        found = self._call(
            "listing servers", lambda: self._client.servers.get_all(label_selector=label_selector)
        )
        return [_server_ref(s) for s in found]

    def list_servers_json(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        """Every server (all pages) as the API's JSON, optionally filtered by a label selector."""
        query = {"label_selector": label_selector} if label_selector else {}
        return self.list_all("/servers", "servers", query)

    def count_servers(self) -> int:
        """How many servers the project has, in one read (the list's first page of one)."""
        page = self._call(
            "counting servers", lambda: self._client.servers.get_list(page=1, per_page=1)
        )
        pagination = page.meta.pagination if page.meta else None
        if pagination is None or pagination.total_entries is None:
            return len(page.servers)
        return pagination.total_entries

    def can_write(self) -> bool | None:
        """Whether the token may write, found out without changing anything; None if unclear.

        Sends an empty update of image 0. Ids start at 1, so the image does not exist, and an
        empty update would change nothing anyway: a Read & Write token gets ``404 not_found``, a
        read-only one ``401 token_readonly`` (the API refuses every non-GET request of such a
        token before looking at the resource). Any other answer says nothing: None.
        """
        try:
            self._call(
                "probing write access",
                lambda: self._client.request("PUT", "/images/0", json={}),
                read=False,
            )
        except HsnapError as exc:
            return {"not_found": True, "token_readonly": False}.get(exc.code)
        return None  # an answer to a write that should not exist: do not guess

    def get_server(self, server_id: int) -> ServerRef:
        bound = self._call(f"server {server_id}", lambda: self._client.servers.get_by_id(server_id))
        return _server_ref(bound)

    def find_server(self, name: str) -> ServerRef | None:
        bound = self._call(f"server {name}", lambda: self._client.servers.get_by_name(name))
        return _server_ref(bound) if bound is not None else None

    def running_actions(self, server_id: int) -> list[ActionRef]:
        """The actions now running on a server: what holds its lock."""
        found = self._call(
            f"actions of server {server_id}",
            lambda: self._client.servers.get_actions(Server(id=server_id), status=["running"]),
        )
        return [_action_ref(a) for a in found]

    def create_snapshot(
        self, server_id: int, description: str, labels: dict[str, str]
    ) -> tuple[ImageRef, ActionRef]:
        """POST create_image (type snapshot). Not retried here: the caller reconciles."""
        response = self._call(
            f"creating a snapshot of server {server_id}",
            lambda: self._client.servers.create_image(
                Server(id=server_id), description=description, type="snapshot", labels=labels
            ),
            read=False,
        )
        return _image_ref(response.image), _action_ref(response.action)

    def power(self, server_id: int, verb: str) -> ActionRef:
        """shutdown (ACPI), poweroff (forced) or poweron; each is harmless to send twice."""
        calls = {
            "shutdown": self._client.servers.shutdown,
            "poweroff": self._client.servers.power_off,
            "poweron": self._client.servers.power_on,
        }
        action = self._call(
            f"{verb} of server {server_id}", lambda: calls[verb](Server(id=server_id)), read=False
        )
        return _action_ref(action)

    def set_labels(self, server_id: int, labels: dict[str, str]) -> ServerRef:
        """Replace a server's labels (PUT); the caller merges with what it read."""
        bound = self._call(
            f"labels of server {server_id}",
            lambda: self._client.servers.update(Server(id=server_id), labels=labels),
            read=False,
        )
        return _server_ref(bound)

    # -- creating, rebuilding and deleting servers (restore, drills) --------------------------

    def server_details(self, server_id: int) -> ServerDetails:
        bound = self._call(f"server {server_id}", lambda: self._client.servers.get_by_id(server_id))
        return convert.details(bound)

    def find_server_details(self, name: str) -> ServerDetails | None:
        bound = self._call(f"server {name}", lambda: self._client.servers.get_by_name(name))
        return convert.details(bound) if bound is not None else None

    def create_server(self, spec: convert.NewServer) -> tuple[ServerDetails, ActionRef]:
        """POST /servers. Not retried: the caller finds what it made by its labels or name."""
        try:
            response = self._call(
                f"creating server {spec.name}",
                lambda: self._client.servers.create(**convert.create_arguments(spec)),
                read=False,
            )
        except PermanentError as exc:
            if exc.code != "resource_limit_exceeded":
                raise
            raise PermanentError(
                f"creating server {spec.name}: the project's server quota is reached; delete "
                "servers it no longer needs or ask Hetzner to raise the limit",
                code=exc.code,
            ) from None
        return convert.details(response.server), _action_ref(response.action)

    def delete_server(self, server_id: int) -> ActionRef:
        """DELETE /servers/{id}: the server answers 404 once its delete_server action runs."""
        action = self._call(
            f"deleting server {server_id}",
            lambda: self._client.servers.delete(Server(id=server_id)),
            read=False,
        )
        return _action_ref(action)

    def rebuild(self, server_id: int, image_id: int) -> ActionRef:
        """POST rebuild: replaces the server's disk with the image (its data is gone)."""
        response = self._call(
            f"rebuilding server {server_id} from image {image_id}",
            lambda: self._client.servers.rebuild(Server(id=server_id), Image(id=image_id)),
            read=False,
        )
        return _action_ref(response.action)

    def raw(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """One request as JSON; only GETs are retried (a write is sent once: callers reconcile)."""
        call = lambda: self._client.request(method, path, **kwargs)  # noqa: E731
        return dict(self._call(what, call, read=method == "GET") or {})

    def list_all(
        self, path: str, key: str, query: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a list endpoint (pages of 50), with ``query``'s filters."""
        items: list[dict[str, Any]] = []
        page: int | None = 1
        while page:
            params = {**(query or {}), "page": page, "per_page": 50}
            data = self.raw("GET", path, f"listing {key}", params=params)
            items.extend(data.get(key) or ())
            page = ((data.get("meta") or {}).get("pagination") or {}).get("next_page")
        return items

    def server_types(self) -> list[ServerTypeInfo]:
        found = self._call("listing server types", self._client.server_types.get_all)
        return [convert.server_type(t) for t in found]

    def _pricing(self) -> dict[str, Any]:
        """GET /pricing (the SDK has no verb for it)."""
        data = self._call("reading prices", lambda: self._client.request("GET", "/pricing"))
        return dict(data["pricing"])

    def pricing(self) -> PriceList:
        """Hourly net server prices per type and location."""
        return convert.price_list(self._pricing())

    def image_price(self) -> ImagePrice:
        """The price of a GB of snapshot per month (never hard-coded)."""
        return convert.image_price(self._pricing())

    def set_image_labels(self, image_id: int, labels: dict[str, str]) -> ImageRef:
        """Replace an image's labels (PUT); the caller merges with what it read."""
        bound = self._call(
            f"labels of image {image_id}",
            lambda: self._client.images.update(Image(id=image_id), labels=labels),
            read=False,
        )
        return _image_ref(bound)

    # -- actions and images ------------------------------------------------------------------

    def get_action(self, action_id: int) -> ActionRef:
        bound = self._call(f"action {action_id}", lambda: self._client.actions.get_by_id(action_id))
        return _action_ref(bound)

    def get_actions(self, action_ids: list[int]) -> list[ActionRef]:
        """Many actions in one request per 50 (``GET /actions?id=..&id=..``)."""
        refs: list[ActionRef] = []
        for start in range(0, len(action_ids), 50):
            chunk = action_ids[start : start + 50]
            data = self._call(
                f"polling {len(chunk)} action(s)",
                lambda chunk=chunk: self._client.request(  # type: ignore[misc]
                    "GET", "/actions", params={"id": chunk, "per_page": 50}
                ),
            )
            refs.extend(_action_from_json(a) for a in data["actions"])
        return refs

    def find_images(self, label_selector: str | None = None) -> list[ImageRef]:
        """Snapshots (every page), optionally only those matching a label selector."""
        found = self._call(
            "listing images",
            lambda: self._client.images.get_all(label_selector=label_selector, type=["snapshot"]),
        )
        return [_image_ref(i) for i in found]

    def delete_image(self, image_id: int) -> None:
        """DELETE /images/{id} (204). Not retried: a retry after an unclear answer finds it gone."""
        self._call(
            f"deleting image {image_id}",
            lambda: self._client.images.delete(Image(id=image_id)),
            read=False,
        )

    def get_image(self, image_id: int) -> ImageRef:
        bound = self._call(f"image {image_id}", lambda: self._client.images.get_by_id(image_id))
        return _image_ref(bound)


def translate(exc: hcloud.APIException, what: str) -> HsnapError:
    """An SDK exception as an hsnap error with an actionable message (no correlation noise)."""
    code = exc.code if isinstance(exc.code, str) else f"http_{exc.code}"
    message = str(exc.message)
    if code in TRANSIENT_CODES or code in ("http_502", "http_503", "http_504"):
        return TransientError(f"{what}: {message} ({code})", code=code)
    if code == "locked":
        return LockedError(f"{what}: {message}", code="locked")
    if code == "not_found":
        return GoneError(f"{what}: not found (deleted?)", code="not_found")
    advice = _ADVICE.get(code)
    if code in ("unauthorized", "token_readonly"):  # the API's wording would say it all again
        return PermanentError(f"{what}: {advice} ({code})", code=code)
    text = f"{what}: {advice} ({message})" if advice else f"{what}: {message} ({code})"
    return PermanentError(text, code=code)


def _server_ref(server: Any) -> ServerRef:
    return ServerRef(
        id=server.id, name=server.name, status=server.status, labels=dict(server.labels or {})
    )


def server_ref(server: dict[str, Any]) -> ServerRef:
    """A server's plain value from its API JSON."""
    return ServerRef(
        id=server["id"],
        name=server["name"],
        status=server["status"],
        labels=dict(server.get("labels") or {}),
    )


def _image_ref(image: Any) -> ImageRef:
    return ImageRef(
        id=image.id,
        status=image.status,
        description=image.description or "",
        image_size=image.image_size,
        labels=dict(image.labels or {}),
        image_type=image.type or "snapshot",
        created=image.created,
        protected=bool((image.protection or {}).get("delete")),
        created_from=image.created_from.name if image.created_from is not None else None,
        created_from_id=image.created_from.id if image.created_from is not None else None,
        architecture=image.architecture or "x86",
        disk_size=image.disk_size,
    )


def _action_ref(action: Any) -> ActionRef:
    error = action.error or {}
    return ActionRef(
        id=action.id,
        command=action.command,
        status=action.status,
        progress=action.progress or 0,
        error_code=error.get("code"),
        error_message=error.get("message"),
        resources=tuple((r["id"], r["type"]) for r in action.resources or ()),
    )


def _action_from_json(data: dict[str, Any]) -> ActionRef:
    error = data.get("error") or {}
    return ActionRef(
        id=data["id"],
        command=data["command"],
        status=data["status"],
        progress=data.get("progress") or 0,
        error_code=error.get("code"),
        error_message=error.get("message"),
        resources=tuple((r["id"], r["type"]) for r in data.get("resources") or ()),
    )
