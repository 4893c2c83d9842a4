"""Fixtures of the stand-in server's own tests.

The ``tiktok_stand_in`` fixture is imported from the plugin module rather than named in
``pytest_plugins``: once the package's ``pytest11`` entry point registers that module, a
``pytest_plugins`` entry for it would register it a second time, which pytest refuses.
An imported fixture simply overrides the plugin's, with or without the entry point.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.testing.pytest_plugin import tiktok_stand_in  # noqa: F401
from tests.testing.stand_in_client import StandInClient


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A ``requests`` session, closed after the test."""
    with requests.Session() as http:
        yield http


@pytest.fixture
def api(tiktok_stand_in: StandInServer, session: requests.Session) -> StandInClient:  # noqa: F811
    """A :class:`StandInClient` for the test's stand-in."""
    return StandInClient(tiktok_stand_in, session)
