"""SSH keys: ``/ssh_keys`` and the ``ssh_keys`` field of ``POST /servers``.

A key is checked as OpenSSH writes a public key (``<type> <base64 blob> [comment]``, the blob
starting with its own type), and its fingerprint is what the API shows: the MD5 of the blob in
colon-separated hex. Names and fingerprints are unique within a project.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_labels import check_labels
from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.lifecycle import NewServer
from hcloud_sim.model import Server
from hcloud_sim.project import Project
from hcloud_sim.query import (
    Reply,
    Request,
    Route,
    body_labels,
    body_str,
    one,
    page,
    path_id,
    selector,
    sort_items,
)
from hcloud_sim.resources import Apply, Family, ServerField
from hcloud_sim.spec import ProjectSpec

#: key types OpenSSH writes into ``*.pub`` files (security keys included)
KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-dss",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_NOT_A_KEY = "invalid SSH key: expected '<type> <base64 key> [comment]' as in an OpenSSH .pub file"


@dataclass
class SSHKey:
    id: int
    name: str
    public_key: str
    fingerprint: str
    labels: dict[str, str]
    created: float


@dataclass
class SSHKeyState:
    keys: dict[int, SSHKey] = field(default_factory=dict)
    #: keys injected into each server at creation (the API does not show them on the server)
    injected: dict[int, list[int]] = field(default_factory=dict)


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint of an OpenSSH public key, as the API shows it; ValueError if invalid."""
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ValueError(_NOT_A_KEY)
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid SSH key: the key is not valid base64") from None
    # the blob starts with its own type as an SSH string (uint32 length, then the bytes)
    if len(blob) < 4:
        raise ValueError("invalid SSH key: the key is truncated")
    (length,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + length] != parts[0].encode() or len(blob) <= 4 + length:
        raise ValueError("invalid SSH key: the key data does not match its type")
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def render_ssh_key(key: SSHKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "fingerprint": key.fingerprint,
        "public_key": key.public_key,
        "labels": dict(key.labels),
        "created": iso(key.created),
    }


def _state(project: Project) -> SSHKeyState:
    return project.store(SSHKeyState)


def _key(project: Project, key_id: int) -> SSHKey:
    key = _state(project).keys.get(key_id)
    if key is None:
        raise ApiError("not_found", f"SSH key with ID '{key_id}' not found")
    return key


def _check_name_free(project: Project, name: str, but: int | None = None) -> None:
    if any(k.name == name and k.id != but for k in _state(project).keys.values()):
        raise ApiError(
            "uniqueness_error",
            "SSH key name is already used",
            details={"fields": [{"name": "name"}]},
        )


def add_key(project: Project, name: str, public_key: str, labels: dict[str, str]) -> SSHKey:
    """A new key (422 for a key that does not parse, 409 for a taken name or fingerprint)."""
    if not name.strip():
        raise invalid_field("name", "must not be empty")
    try:
        print_ = fingerprint(public_key)
    except ValueError as exc:
        raise invalid_field("public_key", str(exc)) from None
    _check_name_free(project, name)
    if any(k.fingerprint == print_ for k in _state(project).keys.values()):
        raise ApiError(
            "uniqueness_error",
            "SSH key with the same fingerprint already exists",
            details={"fields": [{"name": "public_key"}]},
        )
    key = SSHKey(
        id=project.sim.next_id("ssh_key"),
        name=name,
        public_key=public_key.strip(),
        fingerprint=print_,
        labels=dict(labels),
        created=project.sim.clock.now(),
    )
    _state(project).keys[key.id] = key
    return key


# -- routes --------------------------------------------------------------------------------


def list_keys(req: Request) -> Reply:
    name, print_, wanted = one(req, "name"), one(req, "fingerprint"), selector(req)
    keys = [
        k
        for k in _state(req.project).keys.values()
        if (name is None or k.name == name)
        and (print_ is None or k.fingerprint == print_)
        and (wanted is None or wanted.matches(k.labels))
    ]
    keys = sort_items(
        req, sorted(keys, key=lambda k: k.id), {"id": lambda k: k.id, "name": lambda k: k.name}
    )
    return page(req, "ssh_keys", keys, render_ssh_key)


def get_key(req: Request) -> Reply:
    return Reply(200, {"ssh_key": render_ssh_key(_key(req.project, path_id(req)))})


def create_key(req: Request) -> Reply:
    name, public_key = body_str(req, "name"), body_str(req, "public_key")
    if name is None:
        raise invalid_field("name", "is required")
    if public_key is None:
        raise invalid_field("public_key", "is required")
    key = add_key(req.project, name, public_key, body_labels(req) or {})
    return Reply(201, {"ssh_key": render_ssh_key(key)})


def update_key(req: Request) -> Reply:
    key = _key(req.project, path_id(req))
    name, labels = body_str(req, "name"), body_labels(req)
    if name is not None:
        if not name.strip():
            raise invalid_field("name", "must not be empty")
        _check_name_free(req.project, name, but=key.id)
        key.name = name
    if labels is not None:
        key.labels = dict(labels)
    return Reply(200, {"ssh_key": render_ssh_key(key)})


def delete_key(req: Request) -> Reply:
    key = _key(req.project, path_id(req))
    del _state(req.project).keys[key.id]
    return Reply(204, None)


# -- POST /servers ``ssh_keys`` -------------------------------------------------------------


def resolve(project: Project, ref: object, where: str = "ssh_keys") -> SSHKey:
    """A key by id (number or digits) or by name; 422 naming ``where`` when there is none."""
    keys = _state(project).keys
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise invalid_field(where, "must be SSH key IDs or names")
    found = next((k for k in keys.values() if k.name == ref), None)
    if found is None and (isinstance(ref, int) or ref.isdigit()):
        found = keys.get(int(ref))
    if found is None:
        raise invalid_field(where, f"SSH key {ref!r} not found")
    return found


def _prepare(project: Project, value: Any, new: NewServer, location: str) -> Apply | None:
    del new, location
    if not isinstance(value, list):
        raise invalid_field("ssh_keys", "must be a list of SSH key IDs or names")
    ids = [resolve(project, ref).id for ref in value]

    def inject(server: Server) -> None:
        _state(project).injected[server.id] = list(dict.fromkeys(ids))

    return inject if ids else None


def _server_deleted(project: Project, server: Server) -> None:
    _state(project).injected.pop(server.id, None)


# -- scenarios -------------------------------------------------------------------------------


class SSHKeySpec(BaseModel):
    """An SSH key the project starts with."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    public_key: str
    labels: dict[str, str] = Field(default_factory=dict)


class SSHKeysSection(RootModel[list[SSHKeySpec]]):
    def check_refs(self, project: ProjectSpec) -> None:
        """Raise ValueError for a key that does not parse, or a name or key given twice."""
        del project  # keys refer to nothing else in the project
        names: set[str] = set()
        prints: set[str] = set()
        for spec in self.root:
            check_labels(spec.labels)
            try:
                print_ = fingerprint(spec.public_key)
            except ValueError as exc:
                raise ValueError(f"ssh key {spec.name!r}: {exc}") from None
            if spec.name in names or print_ in prints:
                raise ValueError(f"ssh key {spec.name!r}: its name or its key is given twice")
            names.add(spec.name)
            prints.add(print_)


def _seed(project: Project, section: SSHKeysSection | None) -> None:
    for spec in section.root if section is not None else []:  # check_refs found no fault
        add_key(project, spec.name, spec.public_key, spec.labels)


def _ground_truth(project: Project) -> dict[str, Any]:
    state = _state(project)
    return {
        "keys": [render_ssh_key(k) for k in state.keys.values()],
        "injected": {str(sid): ids for sid, ids in state.injected.items()},
    }


FAMILY = Family(
    name="ssh_keys",
    routes=(
        Route("GET", "/ssh_keys", list_keys),
        Route("POST", "/ssh_keys", create_key, frozenset({"name", "public_key", "labels"})),
        Route("GET", "/ssh_keys/{id}", get_key),
        Route("PUT", "/ssh_keys/{id}", update_key, frozenset({"name", "labels"})),
        Route("DELETE", "/ssh_keys/{id}", delete_key),
    ),
    server_fields=(ServerField("ssh_keys", _prepare),),
    on_server_deleted=_server_deleted,
    section=SSHKeysSection,
    seed=_seed,
    order=10,
    ground_truth=_ground_truth,
)
