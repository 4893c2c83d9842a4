"""The OpenLineage facets of the XCom operators, on success and on a partial failure.

The datasets are named after the connection's base URL: the public APIs when the host is
empty, the stand-in's own ``http://127.0.0.1:PORT`` when a connection points at it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok import lineage
from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS
from airflow_provider_tiktok.testing import StandInServer
from tests.fake_apis import (
    ACCESS_TOKEN,
    ED_TOKEN,
    RESEARCH_KEY,
    RESEARCH_SECRET,
    FakeEnsembleData,
    FakeResearch,
)
from tests.lineage_facets import as_sent, names, schema_fields

USERS = ["alice", "ghost"]


def test_ensembledata_facets_name_the_endpoint_read_on_the_mocked_host(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")  # a partial failure: the task succeeds
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=USERS)
    operator.execute(context)

    facets = operator.get_openlineage_facets_on_complete(None)

    assert names(facets.inputs) == [("http://ensembledata.test", "tt/user/info")]
    assert list(schema_fields(facets.inputs[0])) == list(TIKTOK_USER_FIELDS)
    assert facets.outputs == []
    sent = as_sent(facets)
    for secret_or_data in (ED_TOKEN, "alice", "ghost", "User not found"):
        assert secret_or_data not in sent


def test_the_record_schema_has_the_record_types(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=["alice"])

    fields = schema_fields(operator.get_openlineage_facets_on_complete(None).inputs[0])

    assert fields["lookup_key"] == "STRING"
    assert fields["follower_count"] == "INTEGER"
    assert fields["is_verified"] == "BOOLEAN"
    assert fields["fetched_at"] == "TIMESTAMP"
    assert fields["raw"] == "JSON"


def test_sec_uid_lookups_read_the_secuid_endpoint_of_the_public_api(
    airflow_conn: Callable[..., str],
) -> None:
    airflow_conn("ensembledata_default", conn_type="ensembledata", password=ED_TOKEN)
    operator = EnsembleDataUserInfoOperator(task_id="t", sec_uids=["MS4wLjABAAAA-one"])

    facets = operator.get_openlineage_facets_on_complete(None)

    assert names(facets.inputs) == [("https://ensembledata.com", "tt/user/info-from-secuid")]


def test_research_facets_name_the_public_api_by_default(
    airflow_conn: Callable[..., str],
) -> None:
    airflow_conn(
        "tiktok_research_default",
        conn_type="tiktok_research",
        login=RESEARCH_KEY,
        password=RESEARCH_SECRET,
    )
    operator = TikTokResearchUserInfoOperator(task_id="t", usernames=USERS)

    facets = operator.get_openlineage_facets_on_complete(None)

    assert names(facets.inputs) == [("https://open.tiktokapis.com", "v2/research/user/info")]
    assert RESEARCH_SECRET not in as_sent(facets)


def test_research_facets_on_failure_after_some_users_failed(
    research: FakeResearch, context: dict[str, Any]
) -> None:
    research.fail("ghost", 400, "invalid_params", "Cannot find the user")
    operator = TikTokResearchUserInfoOperator(task_id="t", usernames=USERS, on_user_error="fail")
    with pytest.raises(AirflowFailException):
        operator.execute(context)

    facets = operator.get_openlineage_facets_on_failure(None)

    assert names(facets.inputs) == [("http://research.test", "v2/research/user/info")]
    sent = as_sent(facets)
    for secret_or_data in (RESEARCH_SECRET, ACCESS_TOKEN, "alice", "ghost"):
        assert secret_or_data not in sent


def test_the_stand_in_gives_its_own_namespace_and_avatars_their_location(
    tiktok_stand_in: StandInServer, context: dict[str, Any], tmp_path: Path
) -> None:
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=["alice"], avatar_storage=f"file://{tmp_path}/avatars"
    )
    operator.execute(context)

    facets = operator.get_openlineage_facets_on_complete(None)

    assert names(facets.inputs) == [(tiktok_stand_in.base_url, "tt/user/info")]
    assert names(facets.outputs) == [("file", f"{tmp_path}/avatars")]


def test_a_missing_openlineage_install_gives_no_facets_and_never_fails_the_task(
    ensembledata: FakeEnsembleData, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes every import of the provider raise ImportError.
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage", None)
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=["alice"])

    records = operator.execute(context)

    assert [record["status"] for record in records] == ["found"]
    assert operator.get_openlineage_facets_on_complete(None) is None
    assert operator.get_openlineage_facets_on_failure(None) is None


def test_a_broken_openlineage_install_gives_no_facets_and_a_warning(
    ensembledata: FakeEnsembleData,
    context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import airflow.providers.openlineage.extractors as extractors

    def broken(**_: Any) -> None:
        raise RuntimeError("OperatorLineage is broken in this install")

    monkeypatch.setattr(extractors, "OperatorLineage", broken)
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=["alice"])
    operator.execute(context)

    with caplog.at_level("WARNING", logger=lineage.__name__):
        assert operator.get_openlineage_facets_on_complete(None) is None

    assert "OperatorLineage is broken in this install" in caplog.text
