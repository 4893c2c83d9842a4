"""The mapping on generated payloads: any JSON value in any field never makes it raise.

Property-based tests (hypothesis) over each of the four payload shapes. A payload starts
from a well-formed one of the shape (the stand-in's, the fixtures', real replies) and gets
up to 8 changes, each at a place the shape's table reads or an object on the way there: any
JSON value set there (lists and objects where a scalar was, huge and negative numbers, NaN
and infinities, fractions, numeric and odd strings, lone surrogates), the key removed, or an
extra key beside it; now and then the whole payload is replaced.

For every payload: the mapping returns a record without raising; every field is ``None`` or
of its type (text, an id string, a bool, a count from 0 to 2**63 - 1); ``raw`` is the
payload, unchanged; and each value that was present but not readable is named in the
mapping's log, field and place.

Two runs per shape. The bulk run, :data:`EXAMPLES_PER_SHAPE` payloads, has hypothesis draw
one seed per payload and builds the payload from it with :class:`random.Random` (a few
microseconds, where a payload drawn value by value costs hypothesis milliseconds on a
loaded machine): the failing seed is reported and reproduces the payload. The drawn run,
:data:`DRAWN_EXAMPLES_PER_SHAPE` payloads, draws every change and value through hypothesis'
own strategies, so a failure shrinks to the smallest payload. Both are derandomized: every
run tries the same payloads.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_tiktok import mapping
from airflow_provider_tiktok.mapping import (
    CONVERTERS,
    INT64_MAX,
    SHAPES,
    Derived,
    ShapeTable,
    ensembledata_shape,
    user_from_ensembledata,
    user_from_research,
)
from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.testing.users import (
    LARGE_COUNTS_USER,
    RESEARCH_FIELDS,
    ensembledata_secuid_alternative_payload,
    ensembledata_secuid_payload,
    ensembledata_user_info_payload,
    research_user_payload,
    user_for_username,
)
from tests.contract.real_payloads import load

EXAMPLES_PER_SHAPE = 10_000
"""Payloads per shape of the bulk run, in every run of the suite."""

DRAWN_EXAMPLES_PER_SHAPE = 300
"""Payloads per shape drawn value by value through hypothesis' strategies."""


def fuzz_settings(examples: int) -> settings:
    """Deterministic settings: the same payloads on every run, no deadline, no database."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


SEC_UID = "MS4wLjABAAAA" + "x" * 40

ODD_NUMBER_VALUES: list[Any] = (
    [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**32, 2**53, 2**53 + 1, 2**63 - 1, 2**63,
     -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**30), 10**400, -(10**400),
     0.5, -0.0, 1e308, -1e308, 5e-324, 1e19, float("nan"), float("inf"), float("-inf")]
)  # fmt: skip
ODD_STRING_VALUES: list[Any] = (
    ["", " ", "0", "-1", "+5", " 12345 ", "12345.0", "12.5", "1e3", "0x1f", "NaN", "inf",
     "-0", "9" * 31, "1" * 5000, "\u0661\u0662\u0663", "\uff11\uff12\uff13", "true",
     "FALSE", "yes", "null", "None",
     "\x00", "\ud800", "\U0001f600", "a\nb", "<script>", "%00", "https://evil.example/",
     "http://169.254.169.254/", "@user", "../../etc"]
)  # fmt: skip
ODD_NUMBERS = st.sampled_from(ODD_NUMBER_VALUES)
ODD_STRINGS = st.sampled_from(ODD_STRING_VALUES)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | ODD_NUMBERS
    | ODD_STRINGS
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=4,
)
"""Any JSON value (and what Python's ``json`` also reads: NaN, infinities, huge integers)."""

_VERIFICATION_KEYS = ("enterprise_verify_reason", "custom_verify", "verification_type")


def paths_read(table: ShapeTable) -> list[tuple[str | int, ...]]:
    """Every place the table reads, and every object on the way there (the root included)."""
    found: dict[tuple[str | int, ...], None] = {(): None}
    for candidates in table.values():
        for candidate in candidates:
            if isinstance(candidate, Derived):
                ends = [(*candidate.path, key) for key in _VERIFICATION_KEYS]
            else:
                ends = [candidate]
            for path in ends:
                for length in range(1, len(path) + 1):
                    found[tuple(path[:length])] = None
    return list(found)


def _fixture_data(name: str) -> Any:
    body = json.loads((FIXTURES / name).read_text())
    return body.get("data", body)


FIXTURES = Path(__file__).parent / "fixtures" / "payloads"
_STAND_IN_AVATARS = {
    size: f"https://p16-sign-va.tiktokcdn.com/{size}.jpeg" for size in ("larger", "medium", "thumb")
}
_STAND_IN_USERS = [user_for_username(name) for name in ("alice", "bob", LARGE_COUNTS_USER)]

BASE_PAYLOADS: dict[str, list[Any]] = {
    "ensembledata_user_info": [
        *(ensembledata_user_info_payload(u, _STAND_IN_AVATARS) for u in _STAND_IN_USERS),
        _fixture_data("ensembledata_user_info.json"),
        _fixture_data("ensembledata_user_info_no_stats.json"),
        _fixture_data("ensembledata_user_info_string_counts.json"),
        load("tiktok_web_userinfo__okinnovation-rehydration.json").data,
    ],
    "ensembledata_user_info_from_secuid": [
        *(ensembledata_secuid_payload(u, _STAND_IN_AVATARS) for u in _STAND_IN_USERS),
        _fixture_data("ensembledata_user_info_from_secuid.json"),
        load("app_profile_other__github9110-search-user-hudabeauty.json").data,
    ],
    "ensembledata_alternative_method": [
        *(ensembledata_secuid_alternative_payload(u, _STAND_IN_AVATARS) for u in _STAND_IN_USERS),
        _fixture_data("ensembledata_alternative_method.json"),
    ],
    "research_user_info": [
        *(research_user_payload(u, RESEARCH_FIELDS, _STAND_IN_AVATARS) for u in _STAND_IN_USERS),
        _fixture_data("research_user_info_all_fields.json"),
        load("research_user_info__tiktok-library-nb-emptybio-zerofollowing.json").data,
    ],
}
"""Well-formed payloads of each shape (the stand-in's, the fixtures', real ones) to start from."""


def _mutate(payload: Any, path: tuple[str | int, ...], action: str, value: Any) -> Any:
    """``payload`` with one change at ``path``: a value set, the key deleted, or a key added."""
    if not path:
        return value if action == "set" else payload
    parent = _dig(payload, path[:-1]) if len(path) > 1 else payload
    step = path[-1]
    if isinstance(parent, dict) and isinstance(step, str):
        if action == "delete":
            parent.pop(step, None)
        elif action == "extra":
            parent[f"{step}_extra"] = value
        else:
            parent[step] = value
    elif isinstance(parent, list) and isinstance(step, int):
        if action == "delete" and parent:
            parent.pop(0)
        elif parent and step < len(parent):
            parent[step] = value
        else:
            parent.append(value)
    return payload


def payloads(shape: str) -> st.SearchStrategy[Any]:
    """A well-formed payload of ``shape`` with up to 8 changes, each at a place it reads:
    any JSON value set there, the key removed, or an extra key beside it."""
    mutation = st.tuples(
        st.sampled_from(paths_read(SHAPES[shape])),
        st.sampled_from(["set", "set", "set", "delete", "extra"]),
        ANY_JSON,
    )

    def build(base: Any, mutations: list[tuple[tuple[str | int, ...], str, Any]]) -> Any:
        payload = copy.deepcopy(base)
        for path, action, value in mutations:
            payload = _mutate(payload, path, action, value)
        return payload

    return st.builds(build, st.sampled_from(BASE_PAYLOADS[shape]), st.lists(mutation, max_size=8))


PATHS_READ = {shape: paths_read(table) for shape, table in SHAPES.items()}


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, from ``rng``: the odd numbers and strings, random ones, containers."""
    kind = rng.randrange(10 if depth < 2 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice(ODD_NUMBER_VALUES)
    if kind == 3:
        return rng.choice(ODD_STRING_VALUES)
    if kind == 4:
        number = rng.getrandbits(rng.choice((8, 31, 32, 53, 63, 64, 65, 200)))
        return -number if rng.random() < 0.3 else number
    if kind == 5:
        return rng.choice((rng.uniform(-1e20, 1e20), rng.random(), float(rng.getrandbits(60))))
    if kind in (6, 7):
        alphabet = rng.choice(("0123456789", "abc -_.", "\u00e9\u0661\ud800\U0001f600\x00"))
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 8:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}": random_json(rng, depth + 1) for i in range(rng.randrange(4))}


def seeded_payload(shape: str, seed: int) -> Any:
    """A payload of ``shape`` with up to 8 changes, built from ``seed`` alone."""
    rng = random.Random(seed)
    payload = copy.deepcopy(rng.choice(BASE_PAYLOADS[shape]))
    places = PATHS_READ[shape]
    for _ in range(rng.randrange(9)):
        action = rng.choice(("set", "set", "set", "delete", "extra"))
        payload = _mutate(payload, rng.choice(places), action, random_json(rng))
    return payload


SEEDS = st.integers(min_value=0, max_value=2**64 - 1)


class Recorded(logging.Handler):
    """Collects the mapping's log messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def mapping_log() -> Iterator[Recorded]:
    """The mapping's warnings, kept out of pytest's own log capture (too slow for 40,000)."""
    handler = Recorded()
    logger = logging.getLogger(mapping.__name__)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    yield handler
    logger.propagate = propagate
    logger.removeHandler(handler)


def _dig(payload: Any, path: tuple[str | int, ...]) -> Any:
    value = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def unreadable_places(payload: Any, table: ShapeTable) -> set[tuple[str, str]]:
    """(field, dotted path) of every present value that its field cannot read, up to the
    first readable one of each field: the places the log must name."""
    places: set[tuple[str, str]] = set()
    for name, candidates in table.items():
        convert = CONVERTERS[name]
        for candidate in candidates:
            if isinstance(candidate, Derived):
                if convert(candidate.compute(_dig(payload, candidate.path))) is not None:
                    break
                continue
            value = _dig(payload, candidate)
            converted = convert(value)
            if converted is not None:
                break
            if value is not None and value != "":
                places.add((name, ".".join(str(step) for step in candidate)))
    return places


def dumped(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def assert_well_formed(user: TikTokUser) -> None:
    for name, convert in CONVERTERS.items():
        value = getattr(user, name)
        if value is None:
            continue
        if convert is mapping.as_count:
            assert type(value) is int and 0 <= value <= INT64_MAX, (name, value)
        elif convert is mapping.as_flag:
            assert type(value) is bool, (name, value)
        else:
            assert type(value) is str and value != "", (name, value)
    if user.status == "found":
        assert user.username or user.user_id or user.sec_uid
    json.dumps(user.to_dict(), default=repr)  # XCom-friendly, NaN in raw aside


def check(payload: Any, mapped: TikTokUser, table: ShapeTable | None, log: Recorded) -> None:
    assert_well_formed(mapped)
    assert mapped.raw is payload
    if table is None:
        assert mapped.status == "error"
        return
    for field, place in unreadable_places(payload, table):
        assert any(f"{field} at {place} is not a readable" in m for m in log.messages), (
            field,
            place,
            log.messages,
        )


SHAPE_CALLS = {
    "ensembledata_user_info": ("username", False),
    "ensembledata_user_info_from_secuid": ("sec_uid", False),
    "ensembledata_alternative_method": ("sec_uid", True),
    "research_user_info": ("username", False),
}
"""How each shape is asked for: the lookup type and the alternative method."""


def map_and_check(shape: str, payload: Any, log: Recorded) -> None:
    """Map one payload of ``shape`` and check every property of the module docstring."""
    log.messages.clear()
    before = dumped(payload)
    lookup_type, alternative = SHAPE_CALLS[shape]
    table: ShapeTable | None
    if shape == "research_user_info":
        user = user_from_research(payload, username="someone")
        table = SHAPES[shape] if isinstance(payload, dict) else None
        assert user.status == ("found" if table is not None else "error")
    else:
        user = user_from_ensembledata(
            payload,
            lookup_type=lookup_type,
            lookup_key="someone" if lookup_type == "username" else SEC_UID,
            alternative_method=alternative,
        )
        readable = isinstance(payload, dict) and isinstance(payload.get("user"), dict)
        table = ensembledata_shape(payload, alternative_method=alternative) if readable else None
    assert dumped(payload) == before  # the payload is never changed
    check(payload, user, table, log)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_mapping_never_raises_and_logs_what_it_cannot_read(
    shape: str, mapping_log: Recorded
) -> None:
    mapped: list[int] = []

    @fuzz_settings(EXAMPLES_PER_SHAPE)
    @given(SEEDS)
    def run(seed: int) -> None:
        mapped.append(seed)
        map_and_check(shape, seeded_payload(shape, seed), mapping_log)

    run()
    assert len(set(mapped)) >= EXAMPLES_PER_SHAPE


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_mapping_never_raises_on_payloads_drawn_value_by_value(
    shape: str, mapping_log: Recorded
) -> None:
    mapped: list[int] = []

    @fuzz_settings(DRAWN_EXAMPLES_PER_SHAPE)
    @given(payloads(shape))
    def run(payload: Any) -> None:
        mapped.append(1)
        map_and_check(shape, payload, mapping_log)

    run()
    assert len(mapped) >= DRAWN_EXAMPLES_PER_SHAPE


def test_the_seeded_payloads_reach_every_kind_of_change() -> None:
    """The bulk run's payloads really are odd: a check of the generator itself."""
    payloads_seen = [seeded_payload("ensembledata_user_info", seed) for seed in range(2000)]
    values = [value for payload in payloads_seen for value in _leaves(payload)]

    assert any(isinstance(v, float) and math.isnan(v) for v in values)
    assert any(isinstance(v, int) and not isinstance(v, bool) and v > 2**64 for v in values)
    assert any(isinstance(v, int) and not isinstance(v, bool) and v < 0 for v in values)
    assert any(isinstance(v, str) and "\ud800" in v for v in values)
    assert any(not isinstance(p, dict) for p in payloads_seen)  # the whole payload replaced
    assert any(isinstance(p, dict) and "user" not in p for p in payloads_seen)  # key removed
    assert any(isinstance(p, dict) and not isinstance(p.get("user"), dict) for p in payloads_seen)
    assert len({dumped(p) for p in payloads_seen}) > 1500


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_the_drawn_values_reach_every_kind_of_value() -> None:
    """The drawn run's strategy really produces what the docstring promises."""
    seen: set[str] = set()

    @settings(max_examples=500, derandomize=True, deadline=None, database=None)
    @given(ANY_JSON)
    def run(value: Any) -> None:
        if isinstance(value, (dict, list)):
            seen.add("container")
        for leaf in _leaves(value):
            if isinstance(leaf, float) and math.isnan(leaf):
                seen.add("nan")
            elif isinstance(leaf, int) and not isinstance(leaf, bool) and abs(leaf) > 2**64:
                seen.add("huge")
            elif isinstance(leaf, int) and not isinstance(leaf, bool) and leaf < 0:
                seen.add("negative")
            elif isinstance(leaf, str):
                seen.add("string")

    run()
    assert seen == {"nan", "huge", "negative", "container", "string"}


def test_a_payload_of_the_shape_keeps_every_value_it_can_read() -> None:
    """A sanity check of the oracle: a well-formed payload has no unreadable place."""
    payload = {"user": {"uniqueId": "alice", "id": "1", "verified": True}, "stats": {"heart": 5}}
    assert unreadable_places(payload, SHAPES["ensembledata_user_info"]) == set()
    assert copy.deepcopy(payload) == payload
