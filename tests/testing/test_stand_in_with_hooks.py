"""The package's real hooks against the stand-in, over real HTTP on 127.0.0.1.

The ``tiktok_stand_in`` fixture points ``ensembledata_default`` and
``tiktok_research_default`` at the server through ``AIRFLOW_CONN_*`` variables, so the hooks
read their connections the way they do in production.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_tiktok.exceptions import (
    TikTokQuotaExhaustedError,
    TikTokUserNotFoundError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.testing import (
    MISSING_USER,
    PRIVATE_USER,
    RESTRICTED_USER,
    StandInServer,
    user_for_username,
)


def no_sleep(seconds: float) -> None:
    """Retries without waiting, so fault tests stay fast."""


def test_ensembledata_hook_reads_a_found_user_on_every_endpoint(
    tiktok_stand_in: StandInServer,
) -> None:
    expected = user_for_username("hooked.user")
    hook = EnsembleDataHook(timeout=5)
    try:
        by_name = hook.user_info_from_username("@hooked.user")
        assert by_name.units_charged == 1
        assert by_name.data["user"]["uniqueId"] == "hooked.user"
        assert by_name.data["user"]["id"] == expected.user_id
        assert by_name.data["stats"]["followerCount"] == expected.follower_count

        by_sec_uid = hook.user_info_from_secuid(by_name.data["user"]["secUid"])
        assert by_sec_uid.units_charged == 1
        assert by_sec_uid.data["user"]["unique_id"] == "hooked.user"
        assert by_sec_uid.data["user"]["uid"] == expected.user_id

        alternative = hook.user_info_from_secuid(expected.sec_uid, alternative_method=True)
        assert alternative.data["user"]["follower_count"] == str(expected.follower_count)
        assert "category" in alternative.data["user"]

        usage = hook.get_used_units(dt.datetime.now(dt.timezone.utc).date())
        assert usage.data == 3
        assert usage.units_charged == 0

        assert hook.test_connection() == (
            True,
            "Connection to EnsembleData works (units used today: 3)",
        )
    finally:
        hook.close()
    log = tiktok_stand_in.request_log
    assert log.requests_for("/tt/user/info")[0].query["username"] == "hooked.user"
    assert log.requests_for("/tt/user/info-from-secuid")[1].query["alternative_method"] == "true"
    assert "alternative_method" not in log.requests_for("/tt/user/info-from-secuid")[0].query
    assert len({record.connection_id for record in log}) == 1


def test_research_hook_reads_a_found_user(tiktok_stand_in: StandInServer) -> None:
    expected = user_for_username("hooked.user")
    hook = TikTokResearchHook(timeout=5)
    try:
        assert hook.test_connection()[0] is True
        reply = hook.user_info("hooked.user")
        assert reply.log_id
        assert reply.data["display_name"] == expected.nickname
        assert reply.data["follower_count"] == expected.follower_count
        assert reply.data["likes_count"] == expected.heart_count
        narrow = hook.user_info("hooked.user", fields=["display_name", "is_verified"])
        assert set(narrow.data) == {"display_name", "is_verified"}
    finally:
        hook.close()
    assert tiktok_stand_in.access_tokens_issued == 1
    assert tiktok_stand_in.request_log.count("/v2/research/user/info/", status=200) == 2


def test_the_hooks_map_the_reserved_users_to_their_per_user_errors(
    tiktok_stand_in: StandInServer,
) -> None:
    ensembledata = EnsembleDataHook(timeout=5, max_retries=0)
    research = TikTokResearchHook(timeout=5, max_retries=0)
    with pytest.raises(TikTokUserPrivateError):
        ensembledata.user_info_from_username(PRIVATE_USER)
    with pytest.raises(TikTokUserNotFoundError):
        ensembledata.user_info_from_username(MISSING_USER)
    with pytest.raises(TikTokUserPrivateError):
        research.user_info(PRIVATE_USER)
    with pytest.raises(TikTokUserRestrictedError):
        research.user_info(RESTRICTED_USER)


def test_the_hooks_ride_out_the_stand_ins_transient_faults(
    tiktok_stand_in: StandInServer,
) -> None:
    tiktok_stand_in.set_faults(
        rate_limit_next=1, retry_after=0, server_errors_next=1, html_errors=True, drop_next=1
    )
    hook = EnsembleDataHook(timeout=5, max_retries=3, sleep=no_sleep)
    assert hook.user_info_from_username("resilient").data["user"]["uniqueId"] == "resilient"
    assert tiktok_stand_in.request_log.statuses() == [None, 429, 503, 200]


def test_the_research_hook_fetches_a_new_token_when_the_old_one_dies(
    tiktok_stand_in: StandInServer,
) -> None:
    tiktok_stand_in.set_faults(token_max_uses=1)
    hook = TikTokResearchHook(timeout=5)
    hook.user_info("first.call")
    hook.user_info("second.call")
    assert hook.tokens_fetched == 2
    assert tiktok_stand_in.request_log.statuses("/v2/research/user/info/") == [200, 401, 200]


def test_the_research_hook_reports_a_spent_daily_quota(tiktok_stand_in: StandInServer) -> None:
    tiktok_stand_in.set_faults(research_daily_quota=1)
    hook = TikTokResearchHook(timeout=5, max_retries=1, sleep=no_sleep)
    hook.user_info("the.only.one")
    with pytest.raises(TikTokQuotaExhaustedError):
        hook.user_info("one.too.many")
