"""Secrets: after every other test (a run at scale, retries, a deferral, a crash), no
credential in any log of any process.

Searched: the log of every process the deployment started (api-server, scheduler,
dag-processor, triggerer, both Celery workers, the stand-in, Redis, PostgreSQL), the
dag-processor's per-file logs and every task log under Airflow's log folder, for the
EnsembleData token, the Research client secret and every access token the stand-in issued.
Airflow's own ``MaskSecret(`` lines are left out (see :data:`MASK_SECRET_MARKER`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deployment.cluster import MASK_SECRET_MARKER, Deployment, find_secrets
from tests.deployment.conftest import SnapshotRun

AIRFLOW_PROCESSES = (
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker-w1",
    "worker-w2",
    "tasks",
)


@pytest.mark.reads_every_log
def test_no_secret_in_any_log(deployment: Deployment, snapshot_at_scale: SnapshotRun) -> None:
    secrets = deployment.secrets()
    assert len(secrets) >= 3, "the run should have issued at least one access token"
    files = deployment.log_files()
    assert set(AIRFLOW_PROCESSES) <= set(files)
    total_read = 0
    all_hits = []
    for process, paths in sorted(files.items()):
        read, hits = find_secrets([p for p in paths if p.exists()], secrets)
        print(f"\n{process}: {read} log files read, {len(hits)} secrets found", end="")
        if process in AIRFLOW_PROCESSES:
            assert read >= 1, f"no log file of {process}"
        total_read += read
        all_hits += hits
    print(f"\nSecrets: {len(secrets)} searched in {total_read} files: {len(all_hits)} hits")
    assert all_hits == [], all_hits


def test_the_search_finds_a_planted_secret_and_skips_mask_lines(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_text(
        "nothing here\n"
        f"DEBUG {MASK_SECRET_MARKER}value='s3cr3t-value')\n"
        "GET /apis/tt/user/info?username=a&token=s3cr3t-value HTTP/1.1\n"
    )
    read, hits = find_secrets([log], ["s3cr3t-value", "absent"])
    assert read == 1
    assert hits == [(log, 3, "secret #0")]
