"""Labels and the label selector language, as the Hetzner Cloud API defines them.

Selector grammar (comma means AND): ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
``k notin (a,b)``. Keys are an optional DNS-subdomain prefix and ``/`` followed by a name of at most
63 characters (alphanumeric at both ends, ``-_.`` inside); values follow the name rules and may be
empty. Pure and shared: the simulator answers by it and hsnap rejects a malformed selector with it
before it calls the API; it belongs to neither, so a production install of hsnap never needs
``hcloud_sim``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
_KEY_RE = re.compile(rf"^(?:(?P<prefix>{_PREFIX})/)?(?P<name>{_NAME})$")
_VALUE_RE = re.compile(rf"^(?:{_NAME})?$")
_TERM_RE = re.compile(
    r"^\s*(?:"
    r"(?P<absent>!)\s*(?P<akey>[^\s!=,()]+)"
    r"|(?P<skey>[^\s!=,()]+)\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)"
    r"|(?P<ckey>[^\s!=,()]+)\s*(?P<op>==|!=|=)\s*(?P<value>[^\s!=,()]*)"
    r"|(?P<pkey>[^\s!=,()]+)"
    r")\s*$"
)

Operator = Literal["eq", "ne", "exists", "absent", "in", "notin"]
RESERVED_PREFIX = "hetzner.cloud"


class LabelError(ValueError):
    """A label key/value or a selector the API would reject; the message says what and where."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case "exists":
                return present
            case "absent":
                return not present
            case "eq":
                return value == self.values[0]
            case "ne":
                return value != self.values[0]
            case "in":
                return present and value in self.values
            case "notin":
                return value not in self.values


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def check_key(key: str) -> None:
    """Raise LabelError unless ``key`` is a valid label key."""
    m = _KEY_RE.match(key)
    if m is None:
        raise LabelError(
            f"invalid label key {key!r}: a key is an optional DNS-subdomain prefix and '/' "
            "followed by at most 63 characters, alphanumeric at both ends, '-', '_' or '.' inside"
        )
    prefix = m.group("prefix")
    if prefix is not None and len(prefix) > 253:
        raise LabelError(f"invalid label key {key!r}: prefix longer than 253 characters")


def check_value(key: str, value: str) -> None:
    """Raise LabelError unless ``value`` is a valid label value (may be empty)."""
    if not _VALUE_RE.match(value):
        raise LabelError(
            f"invalid value {value!r} for label {key!r}: at most 63 characters, alphanumeric at "
            "both ends, '-', '_' or '.' inside (may be empty)"
        )


def check_labels(labels: Mapping[str, str], *, allow_reserved: bool = False) -> None:
    """Validate a whole label set as the API does on create/update."""
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise LabelError(f"label {key!r}: keys and values must be strings")
        check_key(key)
        check_value(key, value)
        if not allow_reserved and key.startswith(RESERVED_PREFIX + "/"):
            raise LabelError(f"label {key!r}: the prefix '{RESERVED_PREFIX}/' is reserved")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``( ... )``."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise LabelError("unbalanced ')' in label selector")
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise LabelError("unbalanced '(' in label selector")
    terms.append("".join(current))
    return terms


def _parse_term(term: str) -> Requirement:
    m = _TERM_RE.match(term)
    if m is None or not term.strip():
        raise LabelError(f"cannot parse label selector expression {term.strip()!r}")
    if m.group("absent"):
        key = m.group("akey")
        check_key(key)
        return Requirement(key, "absent")
    if m.group("setop"):
        key = m.group("skey")
        check_key(key)
        values = tuple(v.strip() for v in m.group("values").split(","))
        if values == ("",):
            raise LabelError(f"empty value list in {term.strip()!r}")
        for value in values:
            check_value(key, value)
        op: Operator = "in" if m.group("setop") == "in" else "notin"
        return Requirement(key, op, values)
    if m.group("op"):
        key, value = m.group("ckey"), m.group("value")
        check_key(key)
        check_value(key, value)
        return Requirement(key, "ne" if m.group("op") == "!=" else "eq", (value,))
    key = m.group("pkey")
    check_key(key)
    return Requirement(key, "exists")


def parse_selector(text: str) -> Selector:
    """Parse a label selector; raise LabelError with the offending expression if malformed."""
    if not text.strip():
        return Selector(())
    return Selector(tuple(_parse_term(t) for t in _split_terms(text)))
