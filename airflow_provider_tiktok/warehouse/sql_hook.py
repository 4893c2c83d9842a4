"""The warehouse's hook: any common.sql ``DbApiHook``, resolved from a connection id."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok.compat import BaseHook


def resolve_sql_hook(sql_conn_id: str) -> Any:
    """The common.sql hook of a connection, the way common.sql operators resolve it.

    :param sql_conn_id: any connection whose hook is a ``DbApiHook``.
    :raises ValueError: when the connection's hook is not a ``DbApiHook``.
    """
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    hook = BaseHook.get_hook(sql_conn_id)
    if not isinstance(hook, DbApiHook):
        raise ValueError(
            f"Connection {sql_conn_id!r} is of type {getattr(hook, 'conn_type', '?')!r}, whose "
            f"hook {type(hook).__name__} is not a common.sql DbApiHook: give sql_conn_id a "
            "database connection (postgres, sqlite, snowflake, mysql...)"
        )
    return hook
