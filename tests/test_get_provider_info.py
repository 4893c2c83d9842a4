"""The provider info's settings: declared as Airflow's providers declare theirs, and read.

The connection types, hooks and the schema of the whole provider info are checked in
``tests/hooks/test_connection_forms.py``.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import json
from typing import Any

import jsonschema
import pytest

from airflow_provider_tiktok.get_provider_info import get_provider_info
from airflow_provider_tiktok.operators.base import (
    QUOTA_DEFERRAL_OPTION,
    QUOTA_DEFERRAL_SECTION,
    next_quota_reset,
    quota_resume_time,
)


def provider_yaml_config_schema() -> dict[str, Any]:
    """The ``config`` part of Airflow's provider.yaml schema, with the option definition."""
    schema: dict[str, Any] = json.loads(
        importlib.resources.files("airflow")
        .joinpath("provider.yaml.schema.json")
        .read_text(encoding="utf-8")
    )
    return {**schema["properties"]["config"], "definitions": schema["definitions"]}


def test_the_config_validates_against_airflows_provider_yaml_schema() -> None:
    jsonschema.validate(get_provider_info()["config"], provider_yaml_config_schema())


def test_the_declared_setting_is_the_one_the_quota_wait_reads() -> None:
    config = get_provider_info()["config"]

    assert list(config) == [QUOTA_DEFERRAL_SECTION]
    assert list(config[QUOTA_DEFERRAL_SECTION]["options"]) == [QUOTA_DEFERRAL_OPTION]
    option = config[QUOTA_DEFERRAL_SECTION]["options"][QUOTA_DEFERRAL_OPTION]
    assert option["default"] is None  # unset: resume at 00:05 UTC
    assert option["type"] == "float"
    assert "test" in option["description"]


def test_airflows_providers_manager_loads_the_setting_and_its_default_keeps_0005_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers_manager import ProvidersManager

    monkeypatch.delenv("AIRFLOW__TIKTOK__QUOTA_DEFERRAL_SECONDS", raising=False)
    configs = dict(ProvidersManager().provider_configs)

    assert configs["airflow-provider-tiktok"] == get_provider_info()["config"]
    now = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone.utc)
    assert quota_resume_time(now) == next_quota_reset(now)
