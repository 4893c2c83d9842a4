"""Every real capture, checked by its kind: the project's trimmed copies, or any folder.

Set ``TIKTOK_REAL_PAYLOADS`` to a folder of captures in the format of
``tests/fixtures/real/`` to check those instead; without it the project's copies are checked,
so the test always runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock as rm

from tests.contract.checks import (
    check_app_user,
    check_ensembledata_error,
    check_oauth_error,
    check_research_error,
    check_research_user,
    check_web_user_info,
)
from tests.contract.real_payloads import (
    APP_USER,
    ENSEMBLEDATA_ERROR,
    OAUTH_ERROR,
    REAL_FIXTURES,
    RESEARCH_ERROR,
    RESEARCH_USER,
    WEB_USER_INFO,
    payload_files,
    read_payload,
)

USER_CHECKS = {
    WEB_USER_INFO: check_web_user_info,
    APP_USER: check_app_user,
    RESEARCH_USER: check_research_user,
}
ERROR_CHECKS = {
    RESEARCH_ERROR: check_research_error,
    OAUTH_ERROR: check_oauth_error,
    ENSEMBLEDATA_ERROR: check_ensembledata_error,
}


@pytest.mark.parametrize("path", payload_files(), ids=lambda path: path.stem)
def test_every_real_payload_reads_right(
    path: Path, requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    payload = read_payload(path)

    if payload.kind in USER_CHECKS:
        USER_CHECKS[payload.kind](payload.data)
    else:
        ERROR_CHECKS[payload.kind](payload.body, payload.http_status, requests_mock, airflow_conn)


def test_the_project_keeps_a_real_payload_of_every_kind() -> None:
    kinds = {read_payload(path).kind for path in REAL_FIXTURES.glob("*.json")}

    assert kinds == set(USER_CHECKS) | set(ERROR_CHECKS)
    for path in REAL_FIXTURES.glob("*.json"):
        provenance = read_payload(path).provenance
        assert provenance.get("url") or provenance.get("repo"), path.name
        assert provenance.get("capture_type") and provenance.get("note"), path.name
