"""OpenLineage facets of the provider's tasks: where the data came from and where it went.

Airflow's OpenLineage provider (``apache-airflow-providers-openlineage``) asks every operator
for ``get_openlineage_facets_on_complete`` (and ``..._on_failure``) after the task ran. The
provider's operators answer with :func:`operator_lineage`:

* **inputs**: one dataset per API endpoint read, named after the connection's base URL
  (namespace ``https://ensembledata.com``, name ``tt/user/info`` or
  ``tt/user/info-from-secuid``; namespace ``https://open.tiktokapis.com``, name
  ``v2/research/user/info``), each with a schema facet of the record's fields;
* **outputs**: the snapshot table, named by OpenLineage's conventions for its database
  (:func:`table_dataset`), with a schema facet of its columns and the rows written; and the
  avatar archive's root (:func:`storage_dataset`).

Only names, column names and counts go into a facet: never a credential, a username or a
payload.

OpenLineage is optional. Without the provider installed (or with a broken install), every
function here returns ``None`` and logs why at debug level (warning for an unexpected
error): lineage never fails a task. The imports happen inside the functions, so a task that
emits no lineage never loads OpenLineage.

Airflow's ``ObjectStoragePath`` reports every object written through hook-level lineage,
but OpenLineage reads hook lineage only from tasks that name no dataset themselves, and it
would name each avatar (one per user) rather than the archive. The archive's root is
therefore reported here, translated the way Airflow translates an object-storage asset.
"""

from __future__ import annotations

import logging
import socket
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from airflow_provider_tiktok.record import (
    LOOKUP_SEC_UID,
    LOOKUP_USERNAME,
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    TIKTOK_USER_FIELDS,
    TikTokUser,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

API_ENDPOINTS: dict[tuple[str, str], str] = {
    (SOURCE_ENSEMBLEDATA, LOOKUP_USERNAME): "tt/user/info",
    (SOURCE_ENSEMBLEDATA, LOOKUP_SEC_UID): "tt/user/info-from-secuid",
    (SOURCE_RESEARCH, LOOKUP_USERNAME): "v2/research/user/info",
}
"""The endpoint each API answers a lookup type on: the input dataset's name."""

_TYPE_NAMES: dict[Any, str] = {
    str: "STRING",
    int: "INTEGER",
    bool: "BOOLEAN",
}


def _record_field_types() -> dict[str, str]:
    """Each record field's type, in OpenLineage's free-form type names."""
    hints = typing.get_type_hints(TikTokUser)
    types: dict[str, str] = {}
    for name in TIKTOK_USER_FIELDS:
        members = [arg for arg in typing.get_args(hints[name]) if arg is not type(None)] or [
            hints[name]
        ]
        kind = members[0]
        if name == "raw":
            types[name] = "JSON"
        elif getattr(kind, "__name__", "") == "datetime":
            types[name] = "TIMESTAMP"
        else:
            types[name] = _TYPE_NAMES.get(kind, "STRING")
    return types


RECORD_FIELD_TYPES: dict[str, str] = _record_field_types()
"""The record's fields and their types, in field order: the input datasets' schema."""


def soft(what: str, build: Callable[[], _T]) -> _T | None:
    """Run ``build``, returning ``None`` instead of failing when OpenLineage is missing or broken.

    :param what: what is being built, for the log line.
    :param build: builds the facets; imports OpenLineage itself.
    """
    try:
        return build()
    except ImportError as error:
        log.debug("No OpenLineage %s: the OpenLineage provider is not importable (%s)", what, error)
    except Exception as error:  # lineage is best effort: it never fails a task
        log.warning("Could not build the OpenLineage %s: %s: %s", what, type(error).__name__, error)
    return None


def api_namespace(base_url: str) -> str:
    """The dataset namespace of an API: its base URL's scheme and host (``https://host``).

    :param base_url: the hook's base URL, such as ``https://ensembledata.com/apis``.
    """
    parts = urlsplit(base_url)
    host = parts.netloc.rpartition("@")[2]  # never a userinfo part
    return f"{parts.scheme}://{host}"


def _schema_facet(fields: Iterable[tuple[str, str]]) -> Any:
    from airflow.providers.common.compat.openlineage.facet import (
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    return SchemaDatasetFacet(
        fields=[SchemaDatasetFacetFields(name=name, type=kind) for name, kind in fields]
    )


def api_datasets(source: str, base_url: str, lookup_types: Iterable[str]) -> list[Any]:
    """The input datasets of a fetch: one per endpoint read, with the record's schema.

    :param source: ``"ensembledata"`` or ``"tiktok_research"``.
    :param base_url: the hook's base URL (the connection's host, or the public API's).
    :param lookup_types: the lookup types fetched (``"username"``, ``"sec_uid"``).
    """
    from airflow.providers.common.compat.openlineage.facet import InputDataset

    namespace = api_namespace(base_url)
    names = dict.fromkeys(API_ENDPOINTS[(source, lookup_type)] for lookup_type in lookup_types)
    return [
        InputDataset(
            namespace=namespace,
            name=name,
            facets={"schema": _schema_facet(RECORD_FIELD_TYPES.items())},
        )
        for name in names
    ]


def table_dataset(
    hook: Any,
    table: str,
    schema: str | None,
    columns: dict[str, str],
    rows_written: int | None,
) -> Any:
    """The output dataset of a snapshot table, named by OpenLineage's conventions.

    The warehouse hook names it when it can (``get_openlineage_database_info``, as for
    common.sql's own operators): PostgreSQL gives namespace ``postgres://host:port`` and name
    ``database.schema.table``, the schema defaulting to the connection's current one.
    SQLite's hook gives nothing, and OpenLineage counts a SQLite database as a file of the
    local file system: namespace ``file://<worker hostname>``, name ``<database file>.<table>``.
    Any other warehouse without database info: namespace its connection type, name
    ``schema.table``.

    :param hook: the warehouse's common.sql hook.
    :param table: the table name.
    :param schema: the table's schema, if given.
    :param columns: the table's columns and their SQL types.
    :param rows_written: the rows the task wrote, for the output statistics; ``None`` for none.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    namespace, name = _table_name(hook, table, schema)
    output_facets: dict[str, Any] = {}
    if rows_written is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=rows_written
        )
    return OutputDataset(
        namespace=namespace,
        name=name,
        facets={"schema": _schema_facet(columns.items())},
        outputFacets=output_facets,
    )


def _table_name(hook: Any, table: str, schema: str | None) -> tuple[str, str]:
    conn_type = str(getattr(hook, "conn_type", "") or "sql")
    if conn_type == "sqlite":
        files = {str(row[1]): str(row[2]) for row in hook.get_records("PRAGMA database_list")}
        database_file = files.get(schema or "main") or ":memory:"
        return f"file://{socket.gethostname()}", f"{database_file}.{table}"
    connection = hook.get_connection(getattr(hook, hook.conn_name_attr))
    info = hook.get_openlineage_database_info(connection)
    if info is None:
        return conn_type, f"{schema}.{table}" if schema else table
    from airflow.providers.openlineage.sqlparser import SQLParser

    schema_name = schema or _default_schema(hook)
    name = ".".join(part for part in (info.database, schema_name, table) if part)
    if getattr(info, "is_uppercase_names", False):
        name = name.upper()
    return SQLParser.create_namespace(info), name


def _default_schema(hook: Any) -> str | None:
    try:
        schema: str | None = hook.get_openlineage_default_schema()
    except Exception as error:  # a query the warehouse refused: name the table without it
        log.debug("No default schema for the OpenLineage table name: %s", error)
        return None
    return schema


def storage_dataset(url: str) -> Any:
    """The output dataset of an object-storage location, named as Airflow names its assets.

    ``file:///data/avatars`` gives namespace ``file``, name ``/data/avatars``; ``s3://bucket/
    prefix`` gives namespace ``s3://bucket``, name ``prefix`` (through the storage
    provider's converter when it has one).

    :param url: the location, without any connection id in it.
    """
    from airflow.providers.common.compat.openlineage.facet import OutputDataset
    from airflow.providers.common.compat.openlineage.utils.utils import translate_airflow_asset
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from airflow_provider_tiktok.compat import Asset

    dataset = translate_airflow_asset(Asset(url), None)
    if dataset is None:
        dataset = ExtractorManager.convert_to_ol_dataset_from_object_storage_uri(url)
    if dataset is None:
        raise ValueError(f"no OpenLineage name for the storage location {url!r}")
    return OutputDataset(namespace=dataset.namespace, name=dataset.name)


def operator_lineage(
    inputs: Callable[[], list[Any]], outputs: Callable[[], list[Any]]
) -> Any | None:
    """The ``OperatorLineage`` of a task, or ``None`` when OpenLineage is missing or broken.

    :param inputs: builds the input datasets.
    :param outputs: builds the output datasets.
    """

    def build() -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage

        return OperatorLineage(inputs=inputs(), outputs=outputs())

    return soft("facets", build)
