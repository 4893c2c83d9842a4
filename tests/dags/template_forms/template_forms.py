"""DAGs that hand the operators usernames in every form a template gives.

``template_forms`` renders as Airflow does by default (to strings): ``{{ var.json.x }}`` and
``{{ ti.xcom_pull(...) }}`` give the Python repr of a list, ``{{ var.value.x }}`` the
Variable's own text. ``template_forms_native`` sets ``render_template_as_native_obj=True``,
so the same templates give real lists.
"""

from __future__ import annotations

import datetime as dt

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

for dag_id, native in (("template_forms", False), ("template_forms_native", True)):
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        render_template_as_native_obj=native,
    ):

        @task
        def names() -> list[str]:
            return ["xcom.one", "@xcom.two"]

        EnsembleDataUserInfoOperator(task_id="var_json", usernames="{{ var.json.form_names }}")
        EnsembleDataUserInfoOperator(task_id="var_value", usernames="{{ var.value.form_names }}")
        EnsembleDataUserInfoOperator(task_id="var_value_csv", usernames="{{ var.value.form_csv }}")
        names() >> EnsembleDataUserInfoOperator(
            task_id="xcom", usernames="{{ ti.xcom_pull(task_ids='names') }}"
        )
        TikTokResearchUserInfoOperator(
            task_id="research_fields",
            usernames="{{ var.json.form_names }}",
            fields="{{ var.json.form_fields }}",
        )
