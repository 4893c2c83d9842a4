"""The base of both hooks: every secret it reads is registered with Airflow's secrets masker.

The provider's own redaction covers exception texts and urllib3's lines; everything else a
task logs is Airflow's masker's to hide. These tests write a task's log file the way Airflow
does (on Airflow 3 the supervisor's log file, through its processors; on Airflow 2 a file
handler with the masker as its filter, as Airflow's ``task`` handler has), log each secret
into it after the hooks read it, and read the file back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests_mock as rm

from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from tests.dag_runs import AIRFLOW_3

RESEARCH_BASE = "http://research.mock"
TOKEN_URL = f"{RESEARCH_BASE}/v2/oauth/token/"


@contextmanager
def task_log_file(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Callable[[str], None], Path]]:
    """A task's log file set up as Airflow sets it up, and a function logging a line to it.

    :param name: a name unique to the test, for the file.
    :param monkeypatch: undoes, after the test, the setting a task turns on (Airflow 2).
    """
    if AIRFLOW_3:
        from airflow.configuration import conf
        from airflow.sdk.execution_time.supervisor import _configure_logging

        relative = f"dag_id=masking/run_id=manual/task_id={name}/attempt=1.log"
        logger, descriptor = _configure_logging(relative, client=None)  # type: ignore[arg-type]
        try:
            yield logger.info, Path(conf.get("logging", "base_log_folder")) / relative
        finally:
            descriptor.close()
        return
    from airflow import settings
    from airflow.configuration import conf
    from airflow.utils.log.secrets_masker import _secrets_masker  # type: ignore[attr-defined]

    # ``airflow tasks run`` turns masking on for the task's process; it is off elsewhere.
    monkeypatch.setattr(settings, "MASK_SECRETS_IN_LOGS", True, raising=False)
    path = Path(conf.get("logging", "base_log_folder")) / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.addFilter(_secrets_masker())
    task_logger = logging.getLogger(f"airflow.task.{name}")
    task_logger.addHandler(handler)
    task_logger.setLevel(logging.INFO)
    try:
        yield task_logger.info, path
    finally:
        task_logger.removeHandler(handler)
        handler.close()


def test_every_secret_the_hooks_read_is_masked_in_the_task_log(
    airflow_conn: Callable[..., str], requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Secrets never seen before in this process: the masker keeps what earlier tests gave it.
    unique = uuid.uuid4().hex
    ed_token = f"ed-token-masked-{unique}"
    client_secret = f"client-secret-masked-{unique}"
    access_token = f"clt.access-token-masked-{unique}"
    airflow_conn("ed_masked", conn_type="ensembledata", password=ed_token)
    airflow_conn(
        "research_masked",
        conn_type="tiktok_research",
        login="client-key-masked",
        password=client_secret,
        host=RESEARCH_BASE,
    )
    requests_mock.post(TOKEN_URL, json={"access_token": access_token, "expires_in": 7200})

    assert EnsembleDataHook("ed_masked").token == ed_token
    assert TikTokResearchHook("research_masked").get_access_token() == access_token
    with task_log_file(f"masking-{unique}", monkeypatch) as (log, path):
        for secret in (ed_token, client_secret, access_token):
            log(f"the task printed {secret} by mistake")

    text = path.read_text()
    assert text.count("the task printed *** by mistake") == 3, text
    for secret in (ed_token, client_secret, access_token):
        assert secret not in text


def test_a_secret_no_hook_read_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search above is not vacuous: the same log file shows a secret never registered."""
    unregistered = f"never-registered-{uuid.uuid4().hex}"

    with task_log_file(f"unmasked-{uuid.uuid4().hex}", monkeypatch) as (log, path):
        log(f"the task printed {unregistered}")

    assert f"the task printed {unregistered}" in path.read_text()
