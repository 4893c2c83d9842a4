"""Bad input is refused with an error that names it, before a single request is sent.

Each row builds an operator from one malformed argument (or points it at a connection of
the wrong kind), then executes it. The error must name the bad value, and the stand-in's
request log must stay empty: nothing reached either API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_tiktok.exceptions import TikTokAuthError
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from tests.faults.conftest import ED_TOKEN, SNAPSHOT_DATE, WAREHOUSE, Connections, context

try:
    from airflow.sdk.exceptions import AirflowNotFoundException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[no-redef]

SEC_UID = "MS4wLjABAAAA" + "x" * 40


def ensembledata(**kwargs: Any) -> EnsembleDataUserInfoOperator:
    options: dict[str, Any] = {"task_id": "bad", "usernames": ["tiktok"], **kwargs}
    return EnsembleDataUserInfoOperator(**options)


def research(**kwargs: Any) -> TikTokResearchUserInfoOperator:
    options: dict[str, Any] = {"task_id": "bad", "usernames": ["tiktok"], **kwargs}
    return TikTokResearchUserInfoOperator(**options)


def snapshot(**kwargs: Any) -> TikTokUserInfoToSqlOperator:
    options: dict[str, Any] = {
        "task_id": "bad",
        "source": "ensembledata",
        "usernames": ["tiktok"],
        "sql_conn_id": WAREHOUSE,
        "snapshot_date": SNAPSHOT_DATE,
        **kwargs,
    }
    return TikTokUserInfoToSqlOperator(**options)


def connection_env(conn_id: str, fields: dict[str, Any]) -> dict[str, str]:
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(fields)}


def postgres_at_the_stand_in(server: StandInServer) -> dict[str, str]:
    """A postgres connection whose host and password would reach the stand-in and pass."""
    fields = {"conn_type": "postgres", "host": server.ensembledata_url, "password": ED_TOKEN}
    return connection_env("pg_warehouse", fields)


def extras(**extra: Any) -> Callable[[StandInServer], dict[str, str]]:
    def define(server: StandInServer) -> dict[str, str]:
        return {
            **connection_env("ensembledata_default", server.ensembledata_connection(extra)),
            **connection_env("tiktok_research_default", server.research_connection(extra)),
        }

    return define


@dataclass(frozen=True)
class BadInput:
    """One malformed input.

    :param build: makes the operator (may itself raise).
    :param names: text the error must contain: the bad value, as the user wrote it.
    :param error: the error class expected.
    :param env: extra ``AIRFLOW_CONN_*`` variables the case needs, given the stand-in.
    """

    build: Callable[[], Any]
    names: str
    error: type[Exception] = ValueError
    env: Callable[[StandInServer], dict[str, str]] | None = None


CASES: dict[str, BadInput] = {
    # Usernames, @handles and profile URLs
    "username-empty-string": BadInput(lambda: ensembledata(usernames=""), "at least one username"),
    "username-empty-in-list": BadInput(
        lambda: ensembledata(usernames=["tiktok", ""]), "Invalid TikTok username ''"
    ),
    "username-bare-at": BadInput(lambda: research(usernames=["@"]), "username '@': it is empty"),
    "username-too-long": BadInput(
        lambda: snapshot(usernames=["a" * 25]), f"username '{'a' * 25}': longer than 24"
    ),
    "username-with-space": BadInput(
        lambda: ensembledata(usernames=["bad name"]), "username 'bad name'"
    ),
    "username-non-ascii": BadInput(lambda: research(usernames=["naïve"]), "username 'naïve'"),
    "username-with-slash": BadInput(
        lambda: snapshot(usernames=["user/name"]), "username 'user/name'"
    ),
    "username-not-a-string": BadInput(lambda: ensembledata(usernames=[42]), "got 42"),
    "username-none-in-list": BadInput(lambda: research(usernames=["tiktok", None]), "got None"),
    "usernames-a-dict": BadInput(
        lambda: ensembledata(usernames={"user": "tiktok"}), "got {'user': 'tiktok'}"
    ),
    "usernames-broken-json": BadInput(
        lambda: snapshot(usernames='["tiktok", '), """not a valid JSON list: '["tiktok", '"""
    ),
    "profile-url-other-site": BadInput(
        lambda: ensembledata(usernames=["https://example.com/@someone"]),
        "'https://example.com/@someone': not a tiktok.com URL",
    ),
    "profile-url-of-a-video": BadInput(
        lambda: research(usernames=["https://www.tiktok.com/video/7300000000"]),
        "'https://www.tiktok.com/video/7300000000': expected https://www.tiktok.com/@<username>",
    ),
    "profile-url-without-name": BadInput(
        lambda: snapshot(usernames=["https://www.tiktok.com/@"]), "'https://www.tiktok.com/@'"
    ),
    # sec_uids
    "sec-uid-too-short": BadInput(
        lambda: ensembledata(usernames=None, sec_uids=["MS4wLjABAAAA"]),
        "sec_uid 'MS4wLjABAAAA': expected 20 to 200 characters",
    ),
    "sec-uid-bad-characters": BadInput(
        lambda: snapshot(usernames=None, sec_uids=["MS4wLjABAAAA" + "!" * 20]),
        f"sec_uid 'MS4wLjABAAAA{'!' * 20}'",
    ),
    "sec-uid-too-long": BadInput(
        lambda: ensembledata(usernames=None, sec_uids=["M" * 201]), "expected 20 to 200"
    ),
    "sec-uids-with-research": BadInput(
        lambda: snapshot(source="tiktok_research", usernames=None, sec_uids=[SEC_UID]),
        "looks users up by username only",
    ),
    "usernames-and-sec-uids": BadInput(
        lambda: ensembledata(sec_uids=[SEC_UID]), "exactly one of usernames and sec_uids"
    ),
    # Research fields
    "field-misspelled": BadInput(
        lambda: research(fields=["display_name", "folower_count"]), "['folower_count']"
    ),
    "fields-empty-list": BadInput(lambda: research(fields=[]), "got []"),
    "fields-empty-string": BadInput(
        lambda: snapshot(source="tiktok_research", fields=""), "field(s) [''] in fields=''"
    ),
    "fields-a-number": BadInput(lambda: research(fields=7), "got 7"),
    # Table and schema names
    "table-with-hyphen": BadInput(lambda: snapshot(table="my-table"), "table name 'my-table'"),
    "table-starting-with-digit": BadInput(lambda: snapshot(table="1table"), "name '1table'"),
    "table-with-sql": BadInput(
        lambda: snapshot(table="t; DROP TABLE users"), "name 't; DROP TABLE users'"
    ),
    "table-too-long": BadInput(lambda: snapshot(table="t" * 64), f"name '{'t' * 64}'"),
    "schema-with-space": BadInput(
        lambda: snapshot(schema="my schema"), "Invalid schema name 'my schema'"
    ),
    "schema-empty": BadInput(lambda: snapshot(schema=""), "Invalid schema name ''"),
    # Connections of the wrong kind, or none
    "sql-conn-is-ensembledata": BadInput(
        lambda: snapshot(sql_conn_id="ensembledata_default"),
        "Connection 'ensembledata_default' is of type 'ensembledata'",
    ),
    "ensembledata-conn-is-postgres": BadInput(
        lambda: ensembledata(ensembledata_conn_id="pg_warehouse"),
        "Connection 'pg_warehouse' is of type 'postgres', not 'ensembledata'",
        env=postgres_at_the_stand_in,
    ),
    "snapshot-ensembledata-conn-is-postgres": BadInput(
        lambda: snapshot(ensembledata_conn_id="pg_warehouse"),
        "Connection 'pg_warehouse' is of type 'postgres', not 'ensembledata'",
        env=postgres_at_the_stand_in,
    ),
    "research-conn-is-ensembledata": BadInput(
        lambda: research(tiktok_research_conn_id="ensembledata_default"),
        "Connection 'ensembledata_default' is of type 'ensembledata', not 'tiktok_research'",
    ),
    "ensembledata-conn-is-research": BadInput(
        lambda: snapshot(ensembledata_conn_id="tiktok_research_default"),
        "Connection 'tiktok_research_default' is of type 'tiktok_research', not 'ensembledata'",
    ),
    "ensembledata-conn-undefined": BadInput(
        lambda: ensembledata(ensembledata_conn_id="no_such_conn"),
        "no_such_conn",
        AirflowNotFoundException,
    ),
    "sql-conn-undefined": BadInput(
        lambda: snapshot(sql_conn_id="no_such_warehouse"),
        "no_such_warehouse",
        AirflowNotFoundException,
    ),
    "ensembledata-conn-without-token": BadInput(
        lambda: ensembledata(ensembledata_conn_id="empty_ed"),
        "Connection 'empty_ed' has no EnsembleData API token",
        TikTokAuthError,
        env=lambda server: connection_env(
            "empty_ed", {"conn_type": "ensembledata", "host": server.ensembledata_url}
        ),
    ),
    # Connection extras
    "timeout-not-a-number": BadInput(
        lambda: ensembledata(),
        "invalid 'timeout' extra: 'soon' is not a number",
        env=extras(timeout="soon"),
    ),
    "timeout-zero": BadInput(
        lambda: research(),
        "timeout must be a positive number of seconds, got 0.0",
        env=extras(timeout=0),
    ),
    "max-retries-not-whole": BadInput(
        lambda: snapshot(),
        "invalid 'max_retries' extra: 2.5 is not a whole number",
        env=extras(max_retries=2.5),
    ),
    "max-retries-negative": BadInput(
        lambda: research(), "max_retries must be 0 or more, got -1", env=extras(max_retries=-1)
    ),
    # max_workers, chunk_size, max_units and the other knobs
    "max-workers-zero": BadInput(lambda: ensembledata(max_workers=0), "got 0"),
    "max-workers-above-64": BadInput(lambda: snapshot(max_workers=65), "got 65"),
    "max-workers-negative": BadInput(lambda: research(max_workers=-4), "got -4"),
    "max-workers-fraction": BadInput(lambda: ensembledata(max_workers=2.5), "got 2.5"),
    "max-workers-string": BadInput(lambda: snapshot(max_workers="8"), "got '8'"),
    "max-workers-boolean": BadInput(lambda: research(max_workers=True), "got True"),
    "chunk-size-zero": BadInput(lambda: snapshot(chunk_size=0), "chunk_size must be"),
    "chunk-size-huge": BadInput(lambda: snapshot(chunk_size=100_001), "got 100001"),
    "chunk-size-string": BadInput(lambda: snapshot(chunk_size="500"), "got '500'"),
    "chunk-size-fraction": BadInput(lambda: snapshot(chunk_size=0.5), "got 0.5"),
    "max-units-zero": BadInput(lambda: ensembledata(max_units=0), "max_units must be"),
    "max-units-negative": BadInput(lambda: snapshot(max_units=-10), "got -10"),
    "max-units-string": BadInput(lambda: ensembledata(max_units="100"), "got '100'"),
    "max-units-fraction": BadInput(lambda: snapshot(max_units=12.5), "got 12.5"),
    "max-units-boolean": BadInput(lambda: ensembledata(max_units=True), "got True"),
    "on-user-error-unknown": BadInput(lambda: research(on_user_error="ignore"), "got 'ignore'"),
    "source-unknown": BadInput(lambda: snapshot(source="youtube"), "got 'youtube'"),
    "snapshot-date-impossible": BadInput(
        lambda: snapshot(snapshot_date="2026-13-01"), "got '2026-13-01'"
    ),
    "max-requests-per-second-zero": BadInput(
        lambda: ensembledata(max_requests_per_second=0), "positive number; got 0"
    ),
    "on-units-depleted-unknown": BadInput(
        lambda: ensembledata(on_units_depleted="wait"),
        "on_units_depleted must be 'fail' or 'defer'; got 'wait'",
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_refused_naming_it_before_any_request(
    case: BadInput,
    stand_in: StandInServer,
    connections: Connections,
    warehouse: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (case.env(stand_in) if case.env else {}).items():
        monkeypatch.setenv(name, value)

    with pytest.raises(case.error, match=re.escape(case.names)):
        case.build().execute(context())

    assert stand_in.request_log.records == []
