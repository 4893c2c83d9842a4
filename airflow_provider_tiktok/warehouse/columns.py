"""The snapshot table's columns, derived from the user record, the same in every warehouse.

They live apart from :mod:`~airflow_provider_tiktok.warehouse.table` because both the table
(which creates and migrates) and every writer (which fills the columns) need them, and the
table chooses among the writers: with the columns in the table module, the two would
import each other.
"""

from __future__ import annotations

import typing

from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS, TikTokUser

KEY_COLUMNS = ("source", "lookup_type", "lookup_key", "snapshot_date")
"""The primary key: one row per lookup and snapshot date."""

COLUMNS: tuple[str, ...] = (*TIKTOK_USER_FIELDS, "snapshot_date")
"""The table's columns: every field of :class:`TikTokUser`, then ``snapshot_date``."""

REQUIRED_COLUMNS = (*KEY_COLUMNS, "status")
"""The columns a table must have to be a snapshot table: ``NOT NULL`` in every warehouse."""

_FIELD_TYPES = typing.get_type_hints(TikTokUser)

COUNT_COLUMNS = frozenset(name for name in TIKTOK_USER_FIELDS if _FIELD_TYPES[name] == int | None)
"""Record fields typed ``int``: counts and ``units_charged``, all 64-bit in the table."""

BOOLEAN_COLUMNS = frozenset(
    name for name in TIKTOK_USER_FIELDS if _FIELD_TYPES[name] == bool | None
)
"""Record fields typed ``bool``."""

TEXT_COLUMNS = frozenset(
    name for name in TIKTOK_USER_FIELDS if _FIELD_TYPES[name] in (str, str | None)
)
"""Record fields typed ``str``, keys and ``status`` included (``raw`` is not one)."""
