"""The Asset of a snapshot table names the connection and the qualified table."""

from __future__ import annotations

from airflow_provider_tiktok.warehouse import snapshot_table_asset


def test_the_asset_uri_names_connection_schema_and_table() -> None:
    assert snapshot_table_asset("dwh").uri == "tiktok-snapshots://dwh/tiktok_user_snapshots"
    assert snapshot_table_asset("dwh", "t", "s").uri == "tiktok-snapshots://dwh/s.t"
