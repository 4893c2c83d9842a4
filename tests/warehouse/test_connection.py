"""The kept connection: opened on first use, reused, closed by close() or a with block."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from airflow_provider_tiktok.warehouse.connection import KeptConnection


class SqliteFile:
    """A hook's ``get_conn()`` over one SQLite file, counting the connections it opens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[sqlite3.Connection] = []

    def get_conn(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path)
        self.opened.append(connection)
        return connection


def is_closed(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_nothing_is_opened_until_the_connection_is_used(tmp_path: Path) -> None:
    hook = SqliteFile(tmp_path / "w.db")
    kept = KeptConnection(hook)

    assert hook.opened == []
    assert kept.connection is kept.connection
    assert len(hook.opened) == 1


def test_close_closes_it_and_the_next_use_opens_a_new_one(tmp_path: Path) -> None:
    hook = SqliteFile(tmp_path / "w.db")
    kept = KeptConnection(hook)
    first = kept.connection

    kept.close()
    kept.close()  # closing twice is harmless

    assert is_closed(first)
    assert kept.connection is not first
    assert len(hook.opened) == 2


def test_a_with_block_closes_it_even_on_an_error(tmp_path: Path) -> None:
    hook = SqliteFile(tmp_path / "w.db")

    with pytest.raises(RuntimeError), KeptConnection(hook) as kept:
        kept.connection.execute("SELECT 1")
        raise RuntimeError("the task failed")

    assert is_closed(hook.opened[0])
