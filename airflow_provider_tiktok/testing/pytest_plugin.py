"""The pytest fixture ``tiktok_stand_in``: a started TikTok API stand-in, for tests only.

Installed as a ``pytest11`` plugin, so any test in a project that has this provider
installed can ask for it::

    def test_my_dag_task(tiktok_stand_in):
        tiktok_stand_in.set_faults(rate_limit_next=1)
        hook = EnsembleDataHook()  # uses ensembledata_default, pointed at the stand-in
        ...

The fixture is function-scoped: every test gets a fresh server (no faults, no usage, an
empty request log) on its own ephemeral port, and the environment variables
``AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT`` and ``AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT`` point
the default connections at it for the duration of the test.

Every pytest run of a project that installs the provider loads this module, so it costs
nothing until used: the server is imported inside the fixture, only by a test that asks
for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.stand_in.server import StandInServer


@pytest.fixture
def tiktok_stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInServer]:
    """A started :class:`~airflow_provider_tiktok.testing.StandInServer`, stopped after the test.

    Also sets ``AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT`` and ``AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT``
    to connections pointing at it, and restores them afterwards.
    """
    from airflow_provider_tiktok.testing.stand_in.server import StandInServer

    with StandInServer() as server:
        for name, value in server.airflow_env().items():
            monkeypatch.setenv(name, value)
        yield server
