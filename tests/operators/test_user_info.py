from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.exceptions import (
    TikTokAuthError,
    TikTokBudgetExceededError,
    TikTokQuotaExhaustedError,
)
from airflow_provider_tiktok.links import PROFILE_USERNAME_XCOM_KEY, tiktok_profile_url
from airflow_provider_tiktok.operators.user_info import (
    XCOM_WARNING_BYTES,
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
    xcom_size,
)
from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS
from tests.fake_apis import ED_TOKEN, FakeEnsembleData, FakeResearch, camel_payload
from tests.task_log import TaskLog


def run(operator: Any, context: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = operator.execute(context)
    json.dumps(result)  # XCom-safe
    return result


def test_records_every_outcome_in_input_order(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    ensembledata.fail("hidden", 472, "Private user")
    ensembledata.fail("blocked", 471, "User restricted")
    ensembledata.fail("weird", 463, "Invalid user")
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=["alice", "ghost", "hidden", "blocked", "weird", "bob"]
    )

    records = run(operator, context)

    assert [(r["lookup_key"], r["status"]) for r in records] == [
        ("alice", "found"),
        ("ghost", "not_found"),
        ("hidden", "private"),
        ("blocked", "restricted"),
        ("weird", "invalid"),
        ("bob", "found"),
    ]
    assert all(list(r) == list(TIKTOK_USER_FIELDS) for r in records)
    assert records[0]["follower_count"] == 1000
    assert records[0]["units_charged"] == 1
    assert records[1]["error"] == "User not found"
    assert records[1]["display_name"] is None


def test_skip_leaves_failed_users_out(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 404, "Not found")
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=["alice", "ghost", "bob"], on_user_error="skip"
    )

    assert [r["username"] for r in run(operator, context)] == ["alice", "bob"]


def test_fail_fetches_everyone_then_names_every_failed_lookup(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    ensembledata.fail("hidden", 472, "Private user")
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=["ghost", "alice", "hidden", "bob"], on_user_error="fail"
    )

    with pytest.raises(AirflowFailException) as raised:
        operator.execute(context)

    assert sorted(ensembledata.requested) == ["alice", "bob", "ghost", "hidden"]
    assert "2 of 4 lookups failed" in str(raised.value)
    assert "username=ghost (not_found" in str(raised.value)
    assert "username=hidden (private" in str(raised.value)


def test_duplicates_are_fetched_once_and_returned_once(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    operator = EnsembleDataUserInfoOperator(
        task_id="t",
        usernames=["bob", "alice", " @alice ", "https://www.tiktok.com/@alice?lang=en", "bob"],
    )

    records = run(operator, context)

    assert [r["lookup_key"] for r in records] == ["bob", "alice"]
    assert sorted(ensembledata.requested) == ["alice", "bob"]


def test_results_keep_input_order_with_many_workers(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    names = [f"user{i}" for i in range(20)]
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=names, max_workers=8)

    assert [r["lookup_key"] for r in run(operator, context)] == names


def test_max_units_stops_before_the_budget_is_passed(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=[f"user{i}" for i in range(10)], max_units=4, max_workers=2
    )

    with pytest.raises(TikTokBudgetExceededError) as raised:
        operator.execute(context)

    assert len(ensembledata.requested) == 4
    assert "max_units=4" in str(raised.value)
    assert "Stopped after 4 of 10 users were fetched (4 units charged)" in str(raised.value)


def test_fatal_error_partway_fails_saying_how_many_were_fetched(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    ensembledata.fail("user3", 495, "Units depleted")
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=[f"user{i}" for i in range(6)], max_workers=1
    )

    with pytest.raises(TikTokQuotaExhaustedError) as raised:
        operator.execute(context)

    assert isinstance(raised.value, AirflowFailException)
    assert ensembledata.requested == ["user0", "user1", "user2", "user3"]
    assert "Stopped after 3 of 6 users were fetched" in str(raised.value)
    assert ED_TOKEN not in str(raised.value)


def test_bad_credentials_fail_at_once(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    for name in ("alice", "bob"):
        ensembledata.fail(name, 491, "Invalid token")
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=["alice", "bob"], max_workers=1)

    with pytest.raises(TikTokAuthError, match="check the password of the connection"):
        operator.execute(context)

    assert ensembledata.requested == ["alice"]


@pytest.mark.parametrize(
    "usernames",
    [
        ["alice", "not a name"],
        ["alice", ""],
        ["x" * 25],
        ["https://example.com/@alice"],
        [42],
    ],
)
def test_bad_usernames_fail_before_any_request(
    ensembledata: FakeEnsembleData, context: dict[str, Any], usernames: list[Any]
) -> None:
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=usernames)

    with pytest.raises(ValueError, match=r"Invalid|must be a string"):
        operator.execute(context)

    assert ensembledata.requested == []


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        ('["alice", "bob"]', ["alice", "bob"]),
        ("alice, bob\ncarol", ["alice", "bob", "carol"]),
        ("alice", ["alice"]),
    ],
)
def test_rendered_template_strings_are_read_as_lists(
    ensembledata: FakeEnsembleData, context: dict[str, Any], rendered: str, expected: list[str]
) -> None:
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=rendered)

    assert [r["lookup_key"] for r in run(operator, context)] == expected


def test_sec_uid_lookup_uses_the_secuid_endpoint(
    requests_mock: Any, ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    sec_uid = "MS4wLjABAAAA" + "a" * 40
    requests_mock.get(
        "http://ensembledata.test/apis/tt/user/info-from-secuid",
        json={
            "data": {
                "user": {
                    "uid": "6800000000000000001",
                    "sec_uid": sec_uid,
                    "unique_id": "sam",
                    "follower_count": "3000000000",
                }
            }
        },
        headers={"units_charged": "1"},
    )
    operator = EnsembleDataUserInfoOperator(
        task_id="t", sec_uids=[sec_uid], alternative_method=True
    )

    [record] = run(operator, context)

    assert record["lookup_type"] == "sec_uid"
    assert record["username"] == "sam"
    assert record["follower_count"] == 3_000_000_000
    assert "alternative_method=true" in requests_mock.last_request.url


def test_exactly_one_of_usernames_and_sec_uids() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        EnsembleDataUserInfoOperator(task_id="t")
    with pytest.raises(ValueError, match="exactly one"):
        EnsembleDataUserInfoOperator(task_id="t", usernames=["a"], sec_uids=["b"])


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("on_user_error", "ignore", "on_user_error must be one of"),
        ("max_workers", 0, "max_workers must be"),
        ("max_workers", "8", "max_workers must be"),
        ("max_units", 0, "max_units must be"),
        ("max_units", 2.5, "max_units must be"),
    ],
)
def test_bad_arguments_are_refused_when_the_task_is_defined(
    argument: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        EnsembleDataUserInfoOperator(task_id="t", usernames=["a"], **{argument: value})


def test_profile_link_is_offered_for_a_single_user(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    run(EnsembleDataUserInfoOperator(task_id="t", usernames="@alice"), context)

    assert context["ti"].pushed == {PROFILE_USERNAME_XCOM_KEY: "alice"}
    assert tiktok_profile_url("alice") == "https://www.tiktok.com/@alice"


def test_no_profile_link_for_several_users(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    run(EnsembleDataUserInfoOperator(task_id="t", usernames=["alice", "bob"]), context)

    assert context["ti"].pushed == {PROFILE_USERNAME_XCOM_KEY: None}


def test_research_records_take_the_username_from_the_request(
    research: FakeResearch, context: dict[str, Any]
) -> None:
    research.fail("ghost", 400, "invalid_params", "Search cannot find the user ghost")
    research.fail("hidden", 400, "invalid_params", "User hidden is private")
    research.fail("minor", 400, "invalid_params", "API cannot return this user's information")
    operator = TikTokResearchUserInfoOperator(
        task_id="t", usernames=["@alice", "ghost", "hidden", "minor"]
    )

    records = run(operator, context)

    assert [(r["username"], r["status"], r["log_id"]) for r in records] == [
        ("alice", "found", "log-alice"),
        (None, "not_found", "log-ghost"),
        (None, "private", "log-hidden"),
        (None, "restricted", "log-minor"),
    ]
    assert records[0]["follower_count"] == 42
    assert records[0]["source"] == "tiktok_research"


def test_research_fields_are_sent_and_checked_before_any_request(
    research: FakeResearch, context: dict[str, Any]
) -> None:
    run(
        TikTokResearchUserInfoOperator(
            task_id="t", usernames=["alice"], fields=["display_name", "follower_count"]
        ),
        context,
    )
    assert research.fields == ["display_name,follower_count"]

    with pytest.raises(ValueError, match="follower_total"):
        TikTokResearchUserInfoOperator(
            task_id="t2", usernames=["bob"], fields=["follower_total"]
        ).execute(context)
    assert research.requested == ["alice"]


@pytest.mark.parametrize("value", ["5", 0, -1.5, True])
def test_a_bad_request_rate_is_refused_when_the_task_is_defined(value: Any) -> None:
    with pytest.raises(ValueError, match="max_requests_per_second must be None or a positive"):
        EnsembleDataUserInfoOperator(task_id="t", usernames=["a"], max_requests_per_second=value)


# Small XComs


def padded_payload(username: str, padding: int) -> dict[str, Any]:
    """A found user whose payload carries ``padding`` bytes in a key the mapping ignores."""
    return {**camel_payload(username), "commerceUserInfo": {"note": "x" * padding}}


def test_include_raw_false_leaves_the_payloads_out_and_keeps_every_other_field(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    usernames = ["alice", "bob"]
    with_raw = run(EnsembleDataUserInfoOperator(task_id="a", usernames=usernames), context)
    without = run(
        EnsembleDataUserInfoOperator(task_id="b", usernames=usernames, include_raw=False),
        context,
    )

    assert [record["raw"] for record in with_raw] == [camel_payload(u) for u in usernames]
    assert [record["raw"] for record in without] == [None, None]
    for kept, slim in zip(with_raw, without, strict=True):
        assert {**kept, "raw": None, "fetched_at": None} == {**slim, "fetched_at": None}
        assert list(slim) == list(TIKTOK_USER_FIELDS)


def test_the_research_operator_takes_include_raw_too(
    research: FakeResearch, context: dict[str, Any]
) -> None:
    operator = TikTokResearchUserInfoOperator(task_id="r", usernames=["bob"], include_raw=False)

    [record] = run(operator, context)

    assert record["status"] == "found" and record["raw"] is None


@pytest.mark.parametrize("value", [None, 0, "false"])
def test_include_raw_must_be_a_boolean(value: Any) -> None:
    with pytest.raises(ValueError, match="include_raw must be True or False"):
        EnsembleDataUserInfoOperator(task_id="t", usernames=["alice"], include_raw=value)


def test_a_large_return_value_warns_with_its_size_and_the_ways_out(
    ensembledata: FakeEnsembleData, context: dict[str, Any], task_log: TaskLog
) -> None:
    ensembledata.outcomes["alice"] = (200, {"data": padded_payload("alice", XCOM_WARNING_BYTES)})

    records = run(EnsembleDataUserInfoOperator(task_id="t", usernames=["alice", "bob"]), context)

    [warning] = [line for line in task_log.lines() if "of XCom" in line]
    size = xcom_size(records)
    assert size > XCOM_WARNING_BYTES
    assert f"The return value is {size / 1_000_000:.1f} MB of XCom (2 records" in warning
    assert f"about {size // 2} bytes a user" in warning
    assert "the raw payloads are 1.0 MB of it" in warning
    assert "more than 1.0 MB" in warning
    assert "include_raw=False" in warning
    assert "TikTokUserInfoToSqlOperator" in warning
    assert "XComObjectStorageBackend" in warning


def test_a_small_return_value_or_one_without_payloads_does_not_warn(
    ensembledata: FakeEnsembleData, context: dict[str, Any], task_log: TaskLog
) -> None:
    ensembledata.outcomes["alice"] = (200, {"data": padded_payload("alice", XCOM_WARNING_BYTES)})

    run(EnsembleDataUserInfoOperator(task_id="a", usernames=["bob"]), context)
    records = run(
        EnsembleDataUserInfoOperator(task_id="b", usernames=["alice"], include_raw=False), context
    )

    assert xcom_size(records) < 10_000
    assert not [line for line in task_log.lines() if "of XCom" in line]


def test_xcom_size_is_the_compact_utf8_json_size() -> None:
    assert xcom_size([{"a": "é"}]) == len('[{"a":"é"}]'.encode())
    assert XCOM_WARNING_BYTES == 1024 * 1024
