"""The Airflow UI connection forms of both hooks' connection types, declared once.

Airflow 3.2 and later read the forms from the provider info (``conn-fields`` and
``ui-field-behaviour``); older Airflow asks the hooks (``get_connection_form_widgets`` and
``get_ui_field_behaviour``). Both are derived from :data:`CONNECTION_TYPES` below, so they
cannot drift apart. The forms describe the hooks' connections, so they live beside the
hooks; this module imports nothing, so the provider info is still read without importing any
hook.
"""

from __future__ import annotations

from typing import Any

_TIMEOUT_FIELD = {
    "label": "Timeout (seconds)",
    "schema": {"type": ["number", "null"], "minimum": 0, "default": 30},
    "description": "Read timeout of every API call.",
}
_MAX_RETRIES_FIELD = {
    "label": "Max retries",
    "schema": {"type": ["integer", "null"], "minimum": 0, "default": 5},
    "description": "Retries of a rate-limited, failed or timed-out call, with backoff.",
}

CONNECTION_TYPES: list[dict[str, Any]] = [
    {
        "connection-type": "ensembledata",
        "hook-class-name": "airflow_provider_tiktok.hooks.ensembledata.EnsembleDataHook",
        "hook-name": "EnsembleData",
        "conn-fields": {"timeout": _TIMEOUT_FIELD, "max_retries": _MAX_RETRIES_FIELD},
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login"],
            "relabeling": {"password": "API token", "host": "Base URL (optional)"},
            "placeholders": {
                "host": "https://ensembledata.com/apis",
                "password": "your EnsembleData API token",
            },
        },
    },
    {
        "connection-type": "tiktok_research",
        "hook-class-name": "airflow_provider_tiktok.hooks.research.TikTokResearchHook",
        "hook-name": "TikTok Research API",
        "conn-fields": {"timeout": _TIMEOUT_FIELD, "max_retries": _MAX_RETRIES_FIELD},
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {
                "login": "Client key",
                "password": "Client secret",
                "host": "Base URL (optional)",
            },
            "placeholders": {
                "host": "https://open.tiktokapis.com",
                "login": "client key of your research application",
                "password": "client secret of your research application",
            },
        },
    },
]


def _connection_type(conn_type: str) -> dict[str, Any]:
    for entry in CONNECTION_TYPES:
        if entry["connection-type"] == conn_type:
            return entry
    raise KeyError(f"unknown connection type {conn_type!r}")


def ui_field_behaviour(conn_type: str) -> dict[str, Any]:
    """The hook-style field behaviour (``hidden_fields``, ``relabeling``, ``placeholders``).

    :param conn_type: ``"ensembledata"`` or ``"tiktok_research"``.
    """
    behaviour = _connection_type(conn_type)["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour["hidden-fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour["placeholders"]),
    }


def connection_form_widgets(conn_type: str) -> dict[str, Any]:
    """WTForms fields for the connection's extras, for Airflow versions before 3.2.

    :param conn_type: ``"ensembledata"`` or ``"tiktok_research"``.
    """
    from wtforms import IntegerField, StringField
    from wtforms.validators import NumberRange, Optional

    widget_options: dict[str, Any] = {}
    try:  # the Flask AppBuilder UI of Airflow 2
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget

        widget_options["widget"] = BS3TextFieldWidget()
    except ImportError:
        pass

    field_classes = {"integer": IntegerField, "number": StringField, "string": StringField}
    widgets: dict[str, Any] = {}
    for name, spec in _connection_type(conn_type)["conn-fields"].items():
        json_type = next(t for t in spec["schema"]["type"] if t != "null")
        validators: list[Any] = [Optional()]
        if json_type == "integer" and "minimum" in spec["schema"]:
            validators.append(NumberRange(min=spec["schema"]["minimum"]))
        widgets[name] = field_classes[json_type](
            spec["label"],
            description=spec.get("description"),
            validators=validators,
            default=spec["schema"].get("default"),
            **widget_options,
        )
    return widgets
