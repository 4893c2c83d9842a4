"""The operators' option checks, at definition time."""

from __future__ import annotations

import textwrap
from pathlib import Path
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
from tests.dag_runs import dag_bag


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


def test_every_bad_argument_is_listed_in_one_error_naming_the_task() -> None:
    with pytest.raises(ValueError) as raised:
        EnsembleDataUserInfoOperator(
            task_id="nightly_fetch",
            usernames=["alice"],
            max_workers=100,
            on_user_error="ignore",
            max_units=0,
            on_units_depleted="wait",
        )

    message = str(raised.value)
    assert message.startswith("Task 'nightly_fetch' has 4 invalid arguments: (1) ")
    for expected in (
        "on_user_error must be one of record, skip, fail; got 'ignore'",
        "max_workers must be a whole number from 1 to 64; got 100",
        "max_units must be None or a whole number of 1 or more; got 0",
        "on_units_depleted must be 'fail' or 'defer'; got 'wait'",
    ):
        assert expected in message


def test_one_bad_argument_names_the_task_and_the_argument() -> None:
    with pytest.raises(ValueError) as raised:
        TikTokResearchUserInfoOperator(task_id="research", usernames=["a"], max_workers=100)

    assert str(raised.value) == (
        "Task 'research': max_workers must be a whole number from 1 to 64; got 100"
    )


def test_the_transfer_lists_its_own_bad_arguments_with_the_shared_ones() -> None:
    with pytest.raises(ValueError) as raised:
        TikTokUserInfoToSqlOperator(
            task_id="snapshot",
            source="tiktok_research",
            sql_conn_id="w",
            sec_uids=["MS4wLjABAAAAv7iSuuXDJGDvJkmH"],
            table="bad table",
            chunk_size=0,
            max_workers=0,
            max_failed_fraction=2,
        )

    message = str(raised.value)
    assert message.startswith("Task 'snapshot' has 5 invalid arguments")
    for expected in (
        "Invalid table name 'bad table'",
        "max_workers must be a whole number from 1 to 64; got 0",
        "max_failed_fraction must be None or a number from 0 to 1; got 2",
        "looks users up by username only",
        "chunk_size must be a whole number from 1 to 100000; got 0",
    ):
        assert expected in message


@pytest.mark.parametrize("value", [None, 0, 0.5, 1])
def test_max_failed_fraction_takes_none_or_a_fraction(value: float | None) -> None:
    operator = EnsembleDataUserInfoOperator(
        task_id="a", usernames=["alice"], max_failed_fraction=value
    )
    assert operator.max_failed_fraction == value


def test_max_failed_fraction_is_off_by_default() -> None:
    assert EnsembleDataUserInfoOperator(task_id="a", usernames=["a"]).max_failed_fraction is None


def test_a_dag_file_with_bad_arguments_reports_the_task_and_every_bad_value(
    tmp_path: Path,
) -> None:
    (tmp_path / "bad_arguments.py").write_text(
        textwrap.dedent(
            """
            import datetime as dt
            try:
                from airflow.sdk import DAG
            except ImportError:
                from airflow import DAG
            from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator

            with DAG("bad_arguments", schedule=None, start_date=dt.datetime(2026, 1, 1)):
                EnsembleDataUserInfoOperator(task_id="good", usernames=["a"])
                EnsembleDataUserInfoOperator(
                    task_id="typo", usernames=["a"], max_workers=100, on_user_error="skipp"
                )
            """
        )
    )

    [error] = dag_bag(tmp_path).import_errors.values()

    assert "Task 'typo' has 2 invalid arguments" in error
    assert "max_workers must be a whole number from 1 to 64; got 100" in error
    assert "on_user_error must be one of record, skip, fail; got 'skipp'" in error
