"""The package's public names: every one resolves, the server's only when asked for."""

from __future__ import annotations

import pytest

import airflow_provider_tiktok.testing as testing
from airflow_provider_tiktok.testing.stand_in.request_log import RequestLog, RequestRecord
from airflow_provider_tiktok.testing.stand_in.server import StandInServer


def test_every_exported_name_resolves() -> None:
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    assert set(testing.__all__) <= set(dir(testing))


def test_the_server_names_are_those_of_their_modules() -> None:
    assert testing.StandInServer is StandInServer
    assert testing.RequestLog is RequestLog
    assert testing.RequestRecord is RequestRecord


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NotAName'"):
        _ = testing.NotAName  # type: ignore[attr-defined]
