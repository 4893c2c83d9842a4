"""The README answers what a new user asks first, and stays true to the code it describes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from airflow_provider_tiktok import exceptions
from airflow_provider_tiktok.testing.demo import DEMO_USERNAMES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of one ``##`` section, up to the next one."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, title
    return match[1]


def test_install_says_the_package_is_not_on_pypi_and_pins_airflow_with_the_constraints() -> None:
    install = section("Install")

    assert "not on PyPI yet" in install
    assert 'pip install --constraint constraints/airflow-3.3.2.txt "apache-airflow==3.3.2" .' in (
        install
    )
    assert "dist/airflow_provider_tiktok-*.whl" in install
    assert "make dist" in install


def test_the_errors_table_lists_every_error_the_provider_raises() -> None:
    table = section("Errors")
    raised = [
        name
        for name, value in vars(exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, exceptions.TikTokApiError)
        and value.__module__ == exceptions.__name__
    ]

    assert "TikTokAccessTokenInvalidError" in raised
    for name in raised:
        shortened = name.removeprefix("TikTokUser").removesuffix("Error")
        assert f"`{name}`" in table or f"`...{shortened}Error`" in table, name


@pytest.mark.parametrize(
    "example",
    [
        """export AIRFLOW_CONN_TIKTOK_WAREHOUSE='{"conn_type": "sqlite\"""",
        "airflow connections add tiktok_warehouse --conn-type sqlite",
        """export AIRFLOW_CONN_TIKTOK_WAREHOUSE='{"conn_type": "postgres\"""",
        "airflow connections add tiktok_warehouse --conn-type postgres",
    ],
)
def test_the_warehouse_connection_is_shown_for_sqlite_and_postgres(example: str) -> None:
    assert example in section("Operators")


def test_make_demo_says_which_users_it_fetches() -> None:
    demo = section("The local stand-in")

    for username in DEMO_USERNAMES:
        assert f"`{username}`" in demo, username


@pytest.mark.parametrize(
    "form",
    ["{{ var.json.names }}", "{{ var.value.names }}", "{{ ti.xcom_pull(task_ids='names') }}"],
)
def test_the_operators_section_shows_every_template_form_that_works(form: str) -> None:
    assert form in section("Operators")


def test_the_record_section_says_empty_strings_become_null() -> None:
    assert "an empty string in a\nreply" in section("The user record")
