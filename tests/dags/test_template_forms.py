"""Every template form the README shows, through a real DAG run: rendered lists are read.

Jinja renders a list as its Python repr unless the DAG sets
``render_template_as_native_obj=True``; the operators accept both, and a Variable's own
text (a JSON list, or comma-separated names).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dag_runs import migrate_metadata_db, run_dag
from tests.fake_apis import FakeEnsembleData, FakeResearch

FOLDER = Path(__file__).parent / "template_forms"
NAMES = ["tiktok", "@khaby.lame"]
FIELDS = ["display_name", "follower_count"]


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture(autouse=True)
def variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_FORM_NAMES", json.dumps(NAMES))
    monkeypatch.setenv("AIRFLOW_VAR_FORM_CSV", "tiktok, @khaby.lame")
    monkeypatch.setenv("AIRFLOW_VAR_FORM_FIELDS", json.dumps(FIELDS))


@pytest.mark.parametrize("dag_id", ["template_forms", "template_forms_native"])
def test_every_template_form_gives_the_operators_their_usernames(
    dag_id: str, ensembledata: FakeEnsembleData, research: FakeResearch
) -> None:
    result = run_dag(dag_id, folder=FOLDER)

    assert result.state.endswith("success"), result.task_states
    for task_id in ("var_json", "var_value", "var_value_csv", "research_fields"):
        records = result.xcoms[(task_id, -1)]
        assert [r["lookup_key"] for r in records] == ["tiktok", "khaby.lame"], task_id
        assert {r["status"] for r in records} == {"found"}, task_id
    assert [r["lookup_key"] for r in result.xcoms[("xcom", -1)]] == ["xcom.one", "xcom.two"]
    assert set(research.fields) == {"display_name,follower_count"}
