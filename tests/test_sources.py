"""The sources: one user per call, per-user outcomes as records, fatal errors raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_tiktok.avatars import AvatarArchive
from airflow_provider_tiktok.exceptions import TikTokAuthError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.http_client import DEFAULT_MAX_REPLY_BYTES
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.sources import (
    AvatarArchivingSource,
    EnsembleDataUserSource,
    ResearchUserSource,
    UserSource,
)
from tests.fake_apis import FakeEnsembleData, FakeResearch


def test_an_ensembledata_user_comes_back_as_a_record(ensembledata: FakeEnsembleData) -> None:
    user = EnsembleDataUserSource(EnsembleDataHook()).fetch(Lookup("username", "alice"))

    assert (user.source, user.lookup_key, user.status) == ("ensembledata", "alice", "found")
    assert user.units_charged == 1


def test_a_per_user_error_becomes_a_record_with_its_status(
    ensembledata: FakeEnsembleData,
) -> None:
    ensembledata.fail("ghost", 473, "User not found")

    user = EnsembleDataUserSource(EnsembleDataHook()).fetch(Lookup("username", "ghost"))

    assert (user.status, user.error) == ("not_found", "User not found")


def test_a_reply_over_the_size_limit_is_an_error_record_for_that_user_only(
    ensembledata: FakeEnsembleData,
) -> None:
    huge = {"user": {"uniqueId": "huge", "signature": "x" * (DEFAULT_MAX_REPLY_BYTES + 1)}}
    ensembledata.outcomes["huge"] = (200, {"data": huge})
    source = EnsembleDataUserSource(EnsembleDataHook())

    user = source.fetch(Lookup("username", "huge"))
    other = source.fetch(Lookup("username", "alice"))

    assert user.status == "error"
    assert user.error == (
        "EnsembleData sent a reply larger than 4194304 bytes: not read further (the "
        "connection's max_reply_bytes extra raises the limit)"
    )
    assert other.status == "found"


def test_a_fatal_error_is_raised_not_recorded(ensembledata: FakeEnsembleData) -> None:
    ensembledata.fail("alice", 491, "Invalid token")

    with pytest.raises(TikTokAuthError):
        EnsembleDataUserSource(EnsembleDataHook()).fetch(Lookup("username", "alice"))


def test_a_research_user_comes_back_as_a_record_with_the_fields_asked_for(
    research: FakeResearch,
) -> None:
    source = ResearchUserSource(TikTokResearchHook(), fields=["display_name"])

    user = source.fetch(Lookup("username", "alice"))

    assert (user.source, user.username, user.status) == ("tiktok_research", "alice", "found")
    assert research.fields == ["display_name"]


def test_the_archiving_source_keeps_the_inner_sources_name_and_leaves_failures_alone(
    ensembledata: FakeEnsembleData, tmp_path: Path
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    hook = EnsembleDataHook()
    archive = AvatarArchive.open(tmp_path.as_uri())
    assert archive is not None
    source: UserSource = AvatarArchivingSource(EnsembleDataUserSource(hook), hook, archive)

    user = source.fetch(Lookup("username", "ghost"))

    assert source.source == "ensembledata"
    assert (user.status, user.avatar_path, user.avatar_error) == ("not_found", None, None)
    assert archive.failed == archive.stored == 0
