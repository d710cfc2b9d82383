"""The label rules and the label selector language of ``hcloud_labels`` (pure, no HTTP).

Table tests pin each form of the grammar; hypothesis checks that selectors built from any valid
keys and values parse back to what was meant and select exactly the label sets they should.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcloud_labels import (
    LabelError,
    Requirement,
    Selector,
    check_key,
    check_labels,
    check_value,
    parse_selector,
)

# -- the grammar, form by form --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env=prod", [Requirement("env", "eq", ("prod",))]),
        ("env==prod", [Requirement("env", "eq", ("prod",))]),
        ("env!=prod", [Requirement("env", "ne", ("prod",))]),
        ("env", [Requirement("env", "exists")]),
        ("!env", [Requirement("env", "absent")]),
        ("env in (a,b)", [Requirement("env", "in", ("a", "b"))]),
        ("env in ( a , b )", [Requirement("env", "in", ("a", "b"))]),
        ("env notin (a)", [Requirement("env", "notin", ("a",))]),
        ("env=", [Requirement("env", "eq", ("",))]),
        ("example.com/team=ops", [Requirement("example.com/team", "eq", ("ops",))]),
        ("hetzner.cloud/x", [Requirement("hetzner.cloud/x", "exists")]),  # readable, not settable
        (
            "env in (a,b),!role,tier!=1",
            [
                Requirement("env", "in", ("a", "b")),
                Requirement("role", "absent"),
                Requirement("tier", "ne", ("1",)),
            ],
        ),
        ("", []),
    ],
)
def test_each_form_parses(text: str, expected: list[Requirement]) -> None:
    assert parse_selector(text) == Selector(tuple(expected))


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("env=prod", {"env": "prod"}, True),
        ("env=prod", {"env": "dev"}, False),
        ("env=prod", {}, False),
        ("env!=prod", {"env": "dev"}, True),
        ("env!=prod", {}, True),
        ("env!=prod", {"env": "prod"}, False),
        ("env", {"env": ""}, True),
        ("env", {"other": "env"}, False),
        ("!env", {"other": "env"}, True),
        ("env in (a,b)", {"env": "b"}, True),
        ("env in (a,b)", {"env": "c"}, False),
        ("env in (a,b)", {}, False),
        ("env notin (a,b)", {"env": "c"}, True),
        ("env notin (a,b)", {}, True),
        ("env notin (a,b)", {"env": "a"}, False),
        ("env=", {"env": ""}, True),
        ("env=", {}, False),
        ("env=prod,role=web", {"env": "prod", "role": "web"}, True),
        ("env=prod,role=web", {"env": "prod", "role": "db"}, False),
        ("", {}, True),
    ],
)
def test_matching(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(text).matches(labels) is matches


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("env=prod,", "''"),
        (",env", "''"),
        ("env in (a", "'('"),
        ("env in a)", "')'"),
        ("env in ()", "empty value list"),
        ("=prod", "'=prod'"),
        ("env===prod", "'env===prod'"),
        ("!env=prod", "'!env=prod'"),
        ("bad key=1", "'bad key=1'"),
        ("-env=1", "'-env'"),
        ("env=-x", "'-x'"),
        ("env=a/b", "'a/b'"),
        ("Bad_Prefix.com/x=1", "'Bad_Prefix.com/x'"),
        ("k" * 64, "'" + "k" * 64 + "'"),
        ("env=" + "v" * 64, "'" + "v" * 64 + "'"),
    ],
)
def test_malformed_selectors_say_what_is_wrong(text: str, names: str) -> None:
    with pytest.raises(LabelError) as caught:
        parse_selector(text)
    assert names in str(caught.value)


def test_label_sets_as_the_api_checks_them() -> None:
    check_labels({"env": "prod", "example.com/my": "label", "just-a-key": "", "a.b_c-d": "1"})
    for bad in (
        {"hetzner.cloud/owner": "me"},
        {"": "x"},
        {"env": " prod"},
        {"a" * 254 + "/k": "v"},
        {"env": 1},
    ):
        with pytest.raises(LabelError):
            check_labels(bad)  # type: ignore[arg-type]
    check_labels({"hetzner.cloud/owner": "me"}, allow_reserved=True)


# -- properties ------------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_INNER = _ALNUM + "-_."


@st.composite
def names(draw: st.DrawFn) -> str:
    """1..63 characters, alphanumeric at both ends, ``-_.`` allowed inside."""
    first = draw(st.sampled_from(_ALNUM))
    middle = draw(st.text(alphabet=_INNER, max_size=61))
    last = draw(st.sampled_from(_ALNUM)) if middle or draw(st.booleans()) else ""
    return first + middle + last


@st.composite
def dns_labels(draw: st.DrawFn) -> str:
    lower = "abcdefghijklmnopqrstuvwxyz0123456789"
    first = draw(st.sampled_from(lower))
    middle = draw(st.text(alphabet=lower + "-", max_size=10))
    return first + middle + (draw(st.sampled_from(lower)) if middle else "")


@st.composite
def keys(draw: st.DrawFn) -> str:
    prefix = draw(st.none() | st.lists(dns_labels(), min_size=1, max_size=3).map(".".join))
    name = draw(names())
    return name if prefix is None else f"{prefix}/{name}"


values = st.just("") | names()
#: small pools make collisions (the interesting cases) likely
small_keys = st.sampled_from(["env", "role", "example.com/team", "a.b-c_d"]) | keys()
small_values = st.sampled_from(["", "prod", "web", "1"]) | values
label_sets = st.dictionaries(small_keys, small_values, max_size=5)


@st.composite
def requirements(draw: st.DrawFn) -> tuple[str, Requirement]:
    """Selector text for one requirement, and the requirement it means."""
    key = draw(small_keys)
    form = draw(st.sampled_from(["=", "==", "!=", "exists", "!", "in", "notin"]))
    if form in ("=", "==", "!="):
        value = draw(small_values)
        return f"{key}{form}{value}", Requirement(key, "ne" if form == "!=" else "eq", (value,))
    if form == "exists":
        return key, Requirement(key, "exists")
    if form == "!":
        return f"!{key}", Requirement(key, "absent")
    chosen = tuple(draw(st.lists(small_values, min_size=1, max_size=4)))
    text = f"{key} {form} ({','.join(chosen)})"
    if chosen == ("",):  # "k in ()" is an empty list, not a list of one empty value
        chosen = ("", "x")
        text = f"{key} {form} (,x)"
    return text, Requirement(key, "in" if form == "in" else "notin", chosen)


def oracle(req: Requirement, labels: Mapping[str, str]) -> bool:
    """What the API documents each form to mean, written out independently of the parser."""
    present = req.key in labels
    if req.op == "exists":
        return present
    if req.op == "absent":
        return not present
    if req.op == "eq":
        return present and labels[req.key] == req.values[0]
    if req.op == "ne":
        return not (present and labels[req.key] == req.values[0])
    if req.op == "in":
        return present and labels[req.key] in req.values
    return not (present and labels[req.key] in req.values)


@given(keys(), values)
def test_every_generated_key_and_value_is_valid(key: str, value: str) -> None:
    check_key(key)
    check_value(key, value)
    check_labels({key: value})


@given(st.lists(requirements(), min_size=1, max_size=4), label_sets)
def test_a_built_selector_parses_to_its_meaning_and_selects_exactly(
    parts: list[tuple[str, Requirement]], labels: dict[str, str]
) -> None:
    selector = parse_selector(",".join(text for text, _ in parts))
    assert selector.requirements == tuple(req for _, req in parts)
    assert selector.matches(labels) is all(oracle(req, labels) for _, req in parts)


@given(small_keys, label_sets)
def test_exists_and_absent_are_complements(key: str, labels: dict[str, str]) -> None:
    assert parse_selector(key).matches(labels) is not parse_selector(f"!{key}").matches(labels)


@given(small_keys, small_values, label_sets)
def test_equal_and_not_equal_are_complements(key: str, value: str, labels: dict[str, str]) -> None:
    equal = parse_selector(f"{key}={value}").matches(labels)
    assert parse_selector(f"{key}=={value}").matches(labels) is equal
    assert parse_selector(f"{key}!={value}").matches(labels) is not equal


@given(small_keys, st.lists(names(), min_size=1, max_size=4), label_sets, small_values)
def test_in_and_notin_are_complements_when_the_key_is_present(
    key: str, chosen: list[str], labels: dict[str, str], value: str
) -> None:
    listed = ",".join(chosen)
    with_key = {**labels, key: value}
    inside = parse_selector(f"{key} in ({listed})").matches(with_key)
    assert inside is (value in chosen)
    assert parse_selector(f"{key} notin ({listed})").matches(with_key) is not inside

    without_key = {k: v for k, v in labels.items() if k != key}
    assert parse_selector(f"{key} in ({listed})").matches(without_key) is False
    assert parse_selector(f"{key} notin ({listed})").matches(without_key) is True


@given(st.lists(requirements(), min_size=2, max_size=4), label_sets)
def test_a_comma_is_and(parts: list[tuple[str, Requirement]], labels: dict[str, str]) -> None:
    combined = parse_selector(",".join(text for text, _ in parts)).matches(labels)
    assert combined is all(parse_selector(text).matches(labels) for text, _ in parts)


@given(keys(), st.text(alphabet=_INNER + " /!=", min_size=64, max_size=70))
def test_an_overlong_or_odd_value_is_rejected(key: str, value: str) -> None:
    with pytest.raises(LabelError):
        check_value(key, value)
