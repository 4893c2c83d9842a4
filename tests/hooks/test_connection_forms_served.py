"""The connection forms as Airflow serves them to its UI are the ones the provider declares.

Airflow 3's UI draws the Add and Edit Connection forms from what its API server answers at
``GET /ui/connections/hook_meta``; that answer is built by the API server's own code from the
provider info, and a change there (a field renamed, a placeholder dropped, an extra's schema
rewritten) would show a user a form other than ``connection_forms.py`` declares. On Airflow 3
these tests ask Airflow's FastAPI app itself, in this process, through a test client.

Airflow 2's Flask UI has no such endpoint: it draws the forms from the hooks'
``get_ui_field_behaviour`` and ``get_connection_form_widgets``, which are what the tests read
there. The same expectations, taken from :data:`CONNECTION_TYPES`, apply to both.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_tiktok.compat import BaseHook
from airflow_provider_tiktok.hooks.connection_forms import CONNECTION_TYPES
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from tests.dag_runs import AIRFLOW_3, migrate_metadata_db

HOOKS: dict[str, type[BaseHook]] = {
    hook.conn_type: hook for hook in (EnsembleDataHook, TikTokResearchHook)
}
# The standard fields of the UI's form, by the name the API server gives them, and the
# connection field each one edits.
STANDARD_FIELDS = {
    "description": "description",
    "url_schema": "schema",
    "host": "host",
    "port": "port",
    "login": "login",
    "password": "password",
}
HOOK_META_PATH = "/ui/connections/hook_meta"


def declared(conn_type: str) -> dict[str, Any]:
    [entry] = [e for e in CONNECTION_TYPES if e["connection-type"] == conn_type]
    return entry


def declared_standard_fields(conn_type: str) -> dict[str, dict[str, Any] | None]:
    """Each standard field as the form should show it; ``None`` where it is left as it is."""
    behaviour = declared(conn_type)["ui-field-behaviour"]
    return standard_fields(
        behaviour["hidden-fields"], behaviour["relabeling"], behaviour["placeholders"]
    )


def standard_fields(
    hidden: list[str], relabeling: dict[str, str], placeholders: dict[str, str]
) -> dict[str, dict[str, Any] | None]:
    """The standard fields in the API server's shape, from a field behaviour's three parts."""
    fields: dict[str, dict[str, Any] | None] = {}
    for served_name, field in STANDARD_FIELDS.items():
        shown = {
            "hidden": field in hidden,
            "title": relabeling.get(field),
            "placeholder": placeholders.get(field),
        }
        fields[served_name] = shown if any(shown.values()) else None
    return fields


def declared_extra_fields(conn_type: str) -> dict[str, dict[str, Any]]:
    """Each extra field's label, default and help text."""
    return {
        name: {
            "label": spec["label"],
            "default": spec["schema"]["default"],
            "description": spec["description"],
        }
        for name, spec in declared(conn_type)["conn-fields"].items()
    }


def hook_meta_from_the_api_server() -> dict[str, dict[str, Any]]:
    """The API server's hook metadata, by connection type, from Airflow's own FastAPI app."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    migrate_metadata_db()  # the API server checks every request's token against the DB
    with pytest.MonkeyPatch.context() as env:
        env.setenv(
            "AIRFLOW__CORE__AUTH_MANAGER",
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        )
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
        env.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
        with TestClient(create_app("core")) as client:
            response = client.get(HOOK_META_PATH)
    assert response.status_code == 200, response.text
    served = [item for item in response.json() if item["connection_type"] in HOOKS]
    assert sorted(item["connection_type"] for item in served) == sorted(HOOKS)
    return {item["connection_type"]: item for item in served}


def form_from_the_hooks(conn_type: str) -> dict[str, Any]:
    """What Airflow 2's UI draws the form from: the hook's own two methods."""
    hook = HOOKS[conn_type]
    behaviour = hook.get_ui_field_behaviour()
    extra_fields = {
        name: {
            "label": widget.args[0],
            "default": widget.kwargs["default"],
            "description": widget.kwargs["description"],
        }
        for name, widget in hook.get_connection_form_widgets().items()
    }
    return {
        "hook_class_name": f"{hook.__module__}.{hook.__qualname__}",
        "hook_name": hook.hook_name,
        "standard_fields": standard_fields(
            behaviour["hidden_fields"], behaviour["relabeling"], behaviour["placeholders"]
        ),
        "extra_fields": extra_fields,
    }


@pytest.fixture(scope="module")
def served_forms() -> Iterator[dict[str, dict[str, Any]]]:
    """Each connection type's form as this Airflow's UI receives it, in one common shape."""
    if not AIRFLOW_3:
        yield {conn_type: form_from_the_hooks(conn_type) for conn_type in HOOKS}
        return
    forms = {}
    for conn_type, meta in hook_meta_from_the_api_server().items():
        forms[conn_type] = {
            "hook_class_name": meta["hook_class_name"],
            "hook_name": meta["hook_name"],
            "standard_fields": meta["standard_fields"],
            "extra_fields": {
                name: {
                    "label": field["schema"]["title"],
                    "default": field["value"],
                    "description": field["description"],
                }
                for name, field in meta["extra_fields"].items()
            },
            "raw": meta,
        }
    yield forms


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_the_served_form_is_the_declared_one(
    served_forms: dict[str, dict[str, Any]], conn_type: str
) -> None:
    served = served_forms[conn_type]

    assert served["hook_class_name"] == declared(conn_type)["hook-class-name"]
    assert served["hook_name"] == declared(conn_type)["hook-name"]
    assert served["standard_fields"] == declared_standard_fields(conn_type)
    assert served["extra_fields"] == declared_extra_fields(conn_type)


def test_the_served_forms_say_api_token_client_key_and_client_secret(
    served_forms: dict[str, dict[str, Any]],
) -> None:
    ensembledata = served_forms["ensembledata"]["standard_fields"]
    research = served_forms["tiktok_research"]["standard_fields"]

    assert ensembledata["password"] == {
        "hidden": False,
        "title": "API token",
        "placeholder": "your EnsembleData API token",
    }
    assert ensembledata["host"] == {
        "hidden": False,
        "title": "Base URL (optional)",
        "placeholder": "https://ensembledata.com/apis",
    }
    assert {name for name, field in ensembledata.items() if field and field["hidden"]} == {
        "url_schema",
        "port",
        "login",
    }
    assert research["login"] == {
        "hidden": False,
        "title": "Client key",
        "placeholder": "client key of your research application",
    }
    assert research["password"] == {
        "hidden": False,
        "title": "Client secret",
        "placeholder": "client secret of your research application",
    }
    assert research["host"] == {
        "hidden": False,
        "title": "Base URL (optional)",
        "placeholder": "https://open.tiktokapis.com",
    }
    assert {name for name, field in research.items() if field and field["hidden"]} == {
        "url_schema",
        "port",
    }
    for form in served_forms.values():
        assert form["standard_fields"]["description"] is None  # Airflow's own, untouched
        assert {name: field["label"] for name, field in form["extra_fields"].items()} == {
            "timeout": "Timeout (seconds)",
            "max_retries": "Max retries",
        }


if AIRFLOW_3:  # only Airflow 3 has an API server; Airflow 2 is covered by the tests above

    @pytest.mark.parametrize("conn_type", sorted(HOOKS))
    def test_the_api_server_serves_each_extra_fields_schema_as_declared(
        served_forms: dict[str, dict[str, Any]], conn_type: str
    ) -> None:
        meta = served_forms[conn_type]["raw"]

        assert meta["default_conn_name"] in (None, HOOKS[conn_type].default_conn_name)
        assert meta["extra_fields"] == {
            name: {
                "value": spec["schema"]["default"],
                "schema": {**spec["schema"], "title": spec["label"]},
                "description": spec["description"],
                "source": None,
            }
            for name, spec in declared(conn_type)["conn-fields"].items()
        }
