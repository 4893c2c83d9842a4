"""Fetching many users over real HTTP: one pool of kept-alive connections, one shared rate.

These run the operators against the stand-in on 127.0.0.1. The rate-limit checks are lower
bounds on elapsed time, which a slow machine only makes easier to meet; the speed targets
themselves are checked by ``make bench``, never here.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.fetching import build_user_source, fetch_users
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.operators.sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.testing import StandInServer


def test_workers_share_one_pool_of_kept_alive_connections(
    tiktok_stand_in: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    workers = 24  # more than requests' default pool of 10 and the hook's default of 16
    source = build_user_source("ensembledata", max_workers=workers)
    lookups = [Lookup("username", f"user{i}") for i in range(120)]
    try:
        summary = fetch_users(
            source, lookups, total=len(lookups), max_workers=workers, on_user=lambda i, u: None
        )
    finally:
        source.hook.close()  # type: ignore[attr-defined]

    assert summary.statuses == {"found": 120}
    calls = tiktok_stand_in.request_log.requests_for("/tt/user/info")
    assert len(calls) == 120
    assert len({call.connection_id for call in calls}) <= workers  # kept alive, reused
    assert "Connection pool is full" not in caplog.text


def _operator(kind: str, usernames: list[str], rate: float, tmp_path: Path) -> Any:
    options: dict[str, Any] = {
        "task_id": "rate_limited",
        "usernames": usernames,
        "max_workers": 8,
        "max_requests_per_second": rate,
    }
    if kind == "ensembledata":
        return EnsembleDataUserInfoOperator(**options)
    if kind == "tiktok_research":
        return TikTokResearchUserInfoOperator(**options)
    return TikTokUserInfoToSqlOperator(
        source="ensembledata", sql_conn_id="rate_limited_warehouse", **options
    )


@pytest.mark.parametrize("kind", ["ensembledata", "tiktok_research", "sql"])
def test_every_operator_shares_one_rate_limit_between_its_workers(
    kind: str,
    tiktok_stand_in: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RATE_LIMITED_WAREHOUSE",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}),
    )
    rate, users = 40.0, 21
    operator = _operator(kind, [f"user{i}" for i in range(users)], rate, tmp_path)

    started = time.time()
    operator.execute(context)

    path = "/tt/user/info" if kind != "tiktok_research" else "/v2/research/user/info/"
    arrivals = sorted(call.timestamp for call in tiktok_stand_in.request_log.requests_for(path))
    assert len(arrivals) == users
    # At most `rate` calls start per second across all 8 workers, so the last one cannot
    # start before (users - 1) / rate seconds have passed; a limiter per worker would let
    # the batch through in about an eighth of that.
    assert arrivals[-1] - started >= (users - 1) / rate
    assert tiktok_stand_in.request_log.count(status=429) == 0
