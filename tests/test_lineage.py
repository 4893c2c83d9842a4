from __future__ import annotations

import sys

import pytest

from airflow_provider_tiktok import lineage
from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS


@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://ensembledata.com/apis", "https://ensembledata.com"),
        ("https://open.tiktokapis.com", "https://open.tiktokapis.com"),
        ("http://127.0.0.1:8123/apis", "http://127.0.0.1:8123"),
        ("https://user:secret@proxy.example/apis", "https://proxy.example"),
    ],
)
def test_an_api_namespace_is_the_scheme_and_host_of_its_base_url(
    base_url: str, namespace: str
) -> None:
    assert lineage.api_namespace(base_url) == namespace


def test_every_record_field_has_a_type() -> None:
    assert list(lineage.RECORD_FIELD_TYPES) == list(TIKTOK_USER_FIELDS)
    assert set(lineage.RECORD_FIELD_TYPES.values()) == {
        "STRING",
        "INTEGER",
        "BOOLEAN",
        "TIMESTAMP",
        "JSON",
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///data/avatars", ("file", "/data/avatars")),
        ("s3://bucket/tiktok/avatars", ("s3://bucket", "tiktok/avatars")),
    ],
)
def test_a_storage_location_is_named_as_airflow_names_its_assets(
    url: str, expected: tuple[str, str]
) -> None:
    dataset = lineage.storage_dataset(url)

    assert (dataset.namespace, dataset.name) == expected


def test_soft_turns_a_missing_provider_into_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)

    assert lineage.operator_lineage(list, list) is None


def test_soft_turns_any_error_into_none_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list[object]:
        raise KeyError("no such facet")

    with caplog.at_level("WARNING", logger=lineage.__name__):
        assert lineage.operator_lineage(broken, list) is None

    assert "Could not build the OpenLineage facets: KeyError" in caplog.text
