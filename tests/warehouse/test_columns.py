"""The table's columns follow the user record."""

from __future__ import annotations

from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS
from airflow_provider_tiktok.warehouse import COLUMNS, KEY_COLUMNS
from airflow_provider_tiktok.warehouse.columns import (
    BOOLEAN_COLUMNS,
    COUNT_COLUMNS,
    REQUIRED_COLUMNS,
    TEXT_COLUMNS,
)


def test_the_columns_are_the_record_fields_then_the_snapshot_date() -> None:
    assert (*TIKTOK_USER_FIELDS, "snapshot_date") == COLUMNS
    assert set(KEY_COLUMNS) <= set(COLUMNS)
    assert (*KEY_COLUMNS, "status") == REQUIRED_COLUMNS


def test_column_kinds_come_from_the_record_field_types() -> None:
    assert {"follower_count", "units_charged", "digg_count"} <= COUNT_COLUMNS
    assert {"is_verified", "is_private"} == BOOLEAN_COLUMNS
    assert {"source", "lookup_key", "status", "bio", "avatar_path"} <= TEXT_COLUMNS
    assert not {"raw", "fetched_at", "follower_count", "is_private"} & TEXT_COLUMNS
