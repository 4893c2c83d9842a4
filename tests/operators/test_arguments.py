"""The operators' option checks, at definition time."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_tiktok.operators._arguments import (
    DEFAULT_MAX_WORKERS,
    check_avatar_allowed_hosts,
    check_avatar_options,
    check_max_requests_per_second,
    check_max_units,
    check_max_workers,
    check_on_exhausted,
    check_on_user_error,
    check_source,
)
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"avatar_storage": 42}, "avatar_storage must be an object-storage URL"),
        ({"avatar_storage_conn_id": "aws_default"}, "without avatar_storage"),
        ({"avatar_storage": "file:///a", "avatar_storage_conn_id": 1}, "must be a connection"),
        ({"avatar_storage": "file:///a", "avatar_max_bytes": 0}, "avatar_max_bytes must be"),
        ({"avatar_storage": "file:///a", "avatar_max_bytes": True}, "avatar_max_bytes must be"),
        ({"avatar_allowed_hosts": "*.tiktokcdn.com"}, "avatar_allowed_hosts must be None or a"),
        ({"avatar_allowed_hosts": []}, "avatar_allowed_hosts: .* empty"),
        ({"avatar_allowed_hosts": ["ftp://cdn.example"]}, "avatar_allowed_hosts: Allowed image"),
        ({"avatar_allowed_hosts": ["cdn.example:443"]}, "avatar_allowed_hosts: Allowed image"),
    ],
)
def test_bad_avatar_arguments_are_refused_when_the_task_is_defined(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        EnsembleDataUserInfoOperator(task_id="a", usernames=["alice"], **kwargs)


def test_check_avatar_allowed_hosts_returns_the_entries_as_given() -> None:
    assert check_avatar_allowed_hosts(None) is None
    assert check_avatar_allowed_hosts(("*.tiktokcdn.com", "http://127.0.0.1")) == [
        "*.tiktokcdn.com",
        "http://127.0.0.1",
    ]


def test_check_avatar_options_returns_max_bytes() -> None:
    assert check_avatar_options(None, None, 5 * 1024 * 1024) == 5 * 1024 * 1024
    assert check_avatar_options("s3://b/p", "aws_default", 10) == 10


@pytest.mark.parametrize("argument", ["on_quota_exhausted", "on_units_depleted"])
def test_an_unknown_exhaustion_mode_is_refused(argument: str) -> None:
    with pytest.raises(ValueError, match=f"{argument} must be 'fail' or 'defer'; got 'wait'"):
        TikTokUserInfoToSqlOperator(
            task_id="t",
            source="ensembledata",
            sql_conn_id="w",
            usernames=["a"],
            **{argument: "wait"},
        )


def test_the_checks_return_the_value_to_store() -> None:
    assert check_source("tiktok_research") == "tiktok_research"
    assert check_on_user_error("skip") == "skip"
    assert check_on_exhausted("defer", name="on_units_depleted") == "defer"
    assert check_max_workers(64) == 64
    assert check_max_requests_per_second(5) == 5.0
    assert check_max_requests_per_second(None) is None
    assert check_max_units(None) is None
    assert check_max_units(1) == 1


@pytest.mark.parametrize("value", ["tiktok", None, 1])
def test_an_unknown_source_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="source must be 'ensembledata' or 'tiktok_research'; got"):
        check_source(value)


def test_every_operator_defaults_to_the_same_number_of_workers() -> None:
    operators = [
        EnsembleDataUserInfoOperator(task_id="a", usernames=["a"]),
        TikTokResearchUserInfoOperator(task_id="b", usernames=["a"]),
        TikTokUserInfoToSqlOperator(
            task_id="c", source="ensembledata", sql_conn_id="w", usernames=["a"]
        ),
    ]

    assert {operator.max_workers for operator in operators} == {DEFAULT_MAX_WORKERS}
