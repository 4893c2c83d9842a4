"""The connection forms: provider info (Airflow 3.2+) and hook methods (older) agree."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import inspect
import json
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_tiktok.compat import BaseHook
from airflow_provider_tiktok.get_provider_info import get_provider_info
from airflow_provider_tiktok.hooks.connection_forms import CONNECTION_TYPES
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook

HOOKS = [EnsembleDataHook, TikTokResearchHook]
STANDARD_FIELDS = {"description", "host", "port", "login", "password", "schema", "extra"}
AIRFLOW_MAJOR = int(airflow.__version__.split(".")[0])


def airflow_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        importlib.resources.files("airflow").joinpath(name).read_text(encoding="utf-8")
    )
    return schema


def provider_connection_type(conn_type: str) -> dict[str, Any]:
    [entry] = [
        entry
        for entry in get_provider_info()["connection-types"]
        if entry["connection-type"] == conn_type
    ]
    return entry


def test_provider_info_validates_against_airflows_provider_info_schema() -> None:
    jsonschema.validate(get_provider_info(), airflow_schema("provider_info.schema.json"))


def test_connection_types_validate_against_airflows_provider_yaml_schema() -> None:
    schema = airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]

    jsonschema.validate(get_provider_info()["connection-types"], schema)


def test_each_connection_type_has_exactly_one_hook_and_each_hook_one_connection_type() -> None:
    conn_types = [entry["connection-type"] for entry in get_provider_info()["connection-types"]]

    assert sorted(conn_types) == sorted(hook.conn_type for hook in HOOKS)


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_class_attributes_match_the_provider_info(hook_class: type[BaseHook]) -> None:
    entry = provider_connection_type(hook_class.conn_type)
    module_name, class_name = entry["hook-class-name"].rsplit(".", 1)

    assert getattr(importlib.import_module(module_name), class_name) is hook_class
    assert entry["hook-name"] == hook_class.hook_name
    assert hook_class.default_conn_name == f"{hook_class.conn_type}_default"
    hook_modules = [m for item in get_provider_info()["hooks"] for m in item["python-modules"]]
    assert module_name in hook_modules


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda hook: hook.__name__)
def test_the_conn_name_attr_is_the_constructor_argument_and_defaults_to_the_default_conn(
    hook_class: type[BaseHook],
) -> None:
    parameter = inspect.signature(hook_class.__init__).parameters[hook_class.conn_name_attr]

    assert parameter.default == hook_class.default_conn_name
    hook = hook_class(**{hook_class.conn_name_attr: "some_conn"})
    assert getattr(hook, hook_class.conn_name_attr) == "some_conn"
    assert hook.conn_id == "some_conn"  # the same value, stored once


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda hook: hook.__name__)
def test_each_hook_class_holds_the_form_methods_itself(hook_class: type[BaseHook]) -> None:
    # Airflow before 3.2 looks for them in the hook class's own __dict__, never inherited.
    for name in ("get_connection_form_widgets", "get_ui_field_behaviour"):
        assert name in hook_class.__dict__


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_field_behaviour_matches_the_provider_info(hook_class: type[BaseHook]) -> None:
    behaviour = provider_connection_type(hook_class.conn_type)["ui-field-behaviour"]

    assert hook_class.get_ui_field_behaviour() == {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }
    jsonschema.validate(
        hook_class.get_ui_field_behaviour(),
        airflow_schema("customized_form_field_behaviours.schema.json"),
    )


@pytest.mark.parametrize("entry", CONNECTION_TYPES, ids=lambda e: e["connection-type"])
def test_field_behaviour_only_names_fields_that_are_shown(entry: dict[str, Any]) -> None:
    behaviour = entry["ui-field-behaviour"]
    hidden = set(behaviour["hidden-fields"])
    shown = (STANDARD_FIELDS - hidden) | set(entry["conn-fields"])

    assert hidden <= STANDARD_FIELDS
    assert set(behaviour["relabeling"]) <= shown
    assert set(behaviour["placeholders"]) <= shown
    assert "password" in behaviour["relabeling"]


@pytest.mark.parametrize("entry", CONNECTION_TYPES, ids=lambda e: e["connection-type"])
def test_conn_field_defaults_satisfy_their_own_schema(entry: dict[str, Any]) -> None:
    for field in entry["conn-fields"].values():
        jsonschema.validate(field["schema"]["default"], field["schema"])


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_form_widgets_match_the_provider_info_conn_fields(
    hook_class: type[BaseHook],
) -> None:
    """Before Airflow 3.2 the form comes from the hook's wtforms widgets, then conn-fields.

    Airflow 3 ships no wtforms: the hook's method then raises the ImportError that
    Airflow's ProvidersManager treats as harmless, and the form Airflow serves is built
    from the provider info's conn-fields, checked field by field here.
    """
    conn_type = hook_class.conn_type
    conn_fields = provider_connection_type(conn_type)["conn-fields"]
    if importlib.util.find_spec("wtforms") is None:
        assert AIRFLOW_MAJOR >= 3
        with pytest.raises(ImportError) as raised:
            hook_class.get_connection_form_widgets()
        assert raised.value.name == "wtforms"
        from airflow.providers_manager import ProvidersManager

        served = ProvidersManager().connection_form_widgets
        for name, spec in conn_fields.items():
            widget_info = served[f"extra__{conn_type}__{name}"]
            assert widget_info.hook_class_name == f"{hook_class.__module__}.{hook_class.__name__}"
            assert widget_info.field_name == name
            assert widget_info.field == {
                "value": spec["schema"]["default"],
                "schema": {**spec["schema"], "title": spec["label"]},
                "description": spec["description"],
                "source": None,
            }
        return

    from wtforms import IntegerField, StringField
    from wtforms.validators import NumberRange, Optional

    widgets = hook_class.get_connection_form_widgets()
    assert set(widgets) == set(conn_fields)
    for name, spec in conn_fields.items():
        widget = widgets[name]
        json_type = next(t for t in spec["schema"]["type"] if t != "null")
        assert widget.field_class is (IntegerField if json_type == "integer" else StringField)
        assert widget.args == (spec["label"],)
        assert widget.kwargs["default"] == spec["schema"]["default"]
        assert widget.kwargs["description"] == spec["description"]
        validators = widget.kwargs["validators"]
        assert isinstance(validators[0], Optional)
        if json_type == "integer":
            [number_range] = [v for v in validators if isinstance(v, NumberRange)]
            assert number_range.min == spec["schema"]["minimum"]


def widget_label_and_default(widget_info: Any) -> tuple[str, Any]:
    field = widget_info.field
    if isinstance(field, dict):  # Airflow 3.2+: built from the provider info's conn-fields
        return field["schema"]["title"], field["value"]
    return field.args[0], field.kwargs["default"]  # older: a wtforms field from the hook


def hook_registry() -> Any:
    try:  # Airflow 3: the task SDK's registry answers hook look-ups
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager()
    return ProvidersManagerTaskRuntime()


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda hook: hook.__name__)
def test_airflows_providers_manager_serves_these_forms(hook_class: type[BaseHook]) -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    conn_type = hook_class.conn_type
    entry = provider_connection_type(conn_type)

    assert manager.field_behaviours[conn_type] == hook_class.get_ui_field_behaviour()
    for name, spec in entry["conn-fields"].items():
        widget_info = manager.connection_form_widgets[f"extra__{conn_type}__{name}"]
        assert widget_label_and_default(widget_info) == (
            spec["label"],
            spec["schema"]["default"],
        )
    hook_info = hook_registry().hooks[conn_type]
    assert hook_info is not None
    assert hook_info.hook_class_name == entry["hook-class-name"]
    assert hook_info.connection_id_attribute_name == hook_class.conn_name_attr
    assert hook_info.hook_name == hook_class.hook_name
    assert hook_info.package_name == "airflow-provider-tiktok"
