from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_tiktok.compliance.rules import (
    DAILY_REQUEST_QUOTA,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_REFRESH_AFTER_DAYS,
    QUOTA_RESERVE,
    REFRESH_LIMIT_DAYS,
    RefreshPlan,
    capacity,
    check_max_age_days,
    check_max_requests,
    check_refresh_after_days,
)


def test_the_defaults_leave_a_reserve_and_refresh_well_inside_the_limit() -> None:
    assert REFRESH_LIMIT_DAYS == 15
    assert DEFAULT_MAX_REQUESTS == DAILY_REQUEST_QUOTA - QUOTA_RESERVE == 900
    assert DEFAULT_REFRESH_AFTER_DAYS < REFRESH_LIMIT_DAYS


@pytest.mark.parametrize("value", [0, 15, 1.5, True, "10", None])
def test_refresh_after_days_must_come_before_the_limit(value: object) -> None:
    with pytest.raises(ValueError, match="refresh_after_days must be a whole number from 1 to 14"):
        check_refresh_after_days(value)


def test_valid_values_are_returned() -> None:
    assert check_refresh_after_days(14) == 14
    assert check_max_age_days(None) is None
    assert check_max_age_days(30) == 30
    assert check_max_requests(1) == 1


@pytest.mark.parametrize("value", [0, -1, 36_501, False])
def test_max_age_days_out_of_range(value: object) -> None:
    with pytest.raises(ValueError, match="max_age_days"):
        check_max_age_days(value)


@pytest.mark.parametrize("value", [0, 100_001, None, 2.0])
def test_max_requests_out_of_range(value: object) -> None:
    with pytest.raises(ValueError, match="max_requests"):
        check_max_requests(value)


def test_a_plan_says_what_is_left_and_when_the_oldest_lapses() -> None:
    plan = RefreshPlan(
        users=2000, due=1200, refreshing=900, oldest=dt.date(2026, 11, 1), max_requests=900
    )

    assert plan.still_due == 300
    assert plan.deadline == dt.date(2026, 11, 16)
    assert not plan.over_capacity
    assert plan.describe() == (
        "2000 Research users: 1200 due, refreshing 900 (max_requests 900), 300 still due after "
        "this run; the oldest would pass 15 days on 2026-11-16"
    )


def test_a_plan_over_capacity_gives_the_numbers() -> None:
    plan = RefreshPlan(users=15_001, due=0, refreshing=0, oldest=None, max_requests=1000)

    assert capacity(1000) == 15_000
    assert plan.over_capacity
    assert plan.deadline is None
    assert "holds 15001 Research users, but 15 days of 1000 requests refresh at most 15000" in (
        plan.capacity_message()
    )
    assert "none due" in plan.describe()
