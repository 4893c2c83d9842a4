"""PostgreSQL: COPY straight in, or through the staging table, on psycopg 3 and psycopg2."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_tiktok.warehouse import SnapshotTable
from tests.warehouse.fakes import (
    DAY,
    FETCHED_AT,
    TRICKY_TEXT,
    DriverHook,
    failed,
    found,
    statements,
    stored,
)


def test_every_value_survives_copy_exactly(pg_table: SnapshotTable) -> None:
    tricky = found(
        "tricky",
        followers=3_000_000_000,
        display_name=TRICKY_TEXT,
        bio=TRICKY_TEXT,
        region="",
        instagram_id="",
        bio_url=None,
    )
    tricky = dataclasses.replace(
        tricky, raw={"text": TRICKY_TEXT, "nested": [1, None, {"k": "\\u00e9"}], "empty": ""}
    )

    assert pg_table.upsert([tricky, failed("ghost")], DAY) == 2

    rows = stored(pg_table)
    row = rows["tricky"]
    assert row["display_name"] == row["bio"] == TRICKY_TEXT
    assert row["region"] == "" and row["instagram_id"] == ""  # empty text is not NULL
    assert row["bio_url"] is None and row["error"] is None  # NULL is not empty text
    assert row["follower_count"] == 3_000_000_000
    assert row["is_verified"] is True and row["is_private"] is False
    assert row["raw"] == tricky.raw
    assert row["fetched_at"] == FETCHED_AT
    assert row["snapshot_date"] == DAY
    ghost = rows["ghost"]
    assert (ghost["status"], ghost["error"], ghost["raw"]) == ("error", "Service unavailable", None)


def test_new_keys_are_copied_straight_in_with_one_copy_and_no_statement_per_row(
    pg_table: SnapshotTable,
) -> None:
    pg_table.upsert([found(f"user{i}") for i in range(300)], DAY)

    sent = statements(pg_table)
    assert [kind for kind, _ in sent] == ["execute", "copy", "execute"]  # savepoint, release
    assert sent[1][1].startswith("COPY bulk_snapshots (")
    assert len(stored(pg_table)) == 300


def test_each_chunk_of_new_keys_is_one_copy(pg_table: SnapshotTable) -> None:
    for chunk in range(3):
        pg_table.upsert([found(f"chunk{chunk}.user{i}") for i in range(50)], DAY)

    kinds = [kind for kind, _ in statements(pg_table)]
    assert kinds.count("copy") == 3
    assert "executemany" not in kinds
    assert len(stored(pg_table)) == 150


def test_existing_keys_go_through_staging_with_the_upsert_rule(pg_table: SnapshotTable) -> None:
    pg_table.upsert([found("kept"), found("updated", followers=1), failed("retried")], DAY)

    written = pg_table.upsert(
        [failed("kept"), found("updated", followers=2), found("retried"), found("new")], DAY
    )

    assert written == 4
    rows = stored(pg_table)
    assert (rows["kept"]["status"], rows["kept"]["follower_count"]) == ("found", 1000)
    assert rows["updated"]["follower_count"] == 2
    assert (rows["retried"]["status"], rows["retried"]["error"]) == ("found", None)
    assert rows["new"]["status"] == "found"
    kinds = [kind for kind, _ in statements(pg_table)]
    assert kinds.count("copy") == 3  # the refused one, then into the staging table
    assert "executemany" not in kinds
    # The staging table was emptied at the commit: a third chunk upserts only its own rows.
    pg_table.upsert([found("kept", followers=3)], DAY)
    assert stored(pg_table)["kept"]["follower_count"] == 3


def test_after_one_chunk_met_existing_keys_the_next_go_straight_to_staging(
    pg_table: SnapshotTable,
) -> None:
    users = [found(f"user{i}") for i in range(20)]
    pg_table.upsert(users, DAY)
    pg_table.upsert(users[:10], DAY)  # refused by COPY, then through the staging table
    sent = statements(pg_table)
    before = len(sent)

    pg_table.upsert([found(f"user{i}", followers=5) for i in range(10, 20)], DAY)

    kinds = [kind for kind, _ in sent[before:]]
    assert kinds == ["copy", "execute"]  # into the staging table; INSERT ... ON CONFLICT
    assert sent[before][1].startswith("COPY tiktok_snapshot_staging (")
    assert "ON CONFLICT" in sent[before + 1][1]
    creates = [sql for _, sql in sent if sql.startswith("CREATE TEMPORARY TABLE")]
    assert len(creates) == 1  # once per connection, emptied at every commit
    rows = stored(pg_table)
    assert {rows[f"user{i}"]["follower_count"] for i in range(10, 20)} == {5}
    assert {rows[f"user{i}"]["follower_count"] for i in range(10)} == {1000}
    assert len(stored(pg_table)) == 20


def test_a_copy_error_other_than_a_duplicate_key_writes_nothing_and_reconnects(
    pg_table: SnapshotTable,
) -> None:
    hook: DriverHook = pg_table.hook
    pg_table.upsert([found("before")], DAY)
    unstorable = dataclasses.replace(found("huge"), follower_count=2**64)  # beyond BIGINT

    with pytest.raises(Exception, match=r"(?i)out of range|bigint") as raised:
        pg_table.upsert([found("same_chunk"), unstorable], DAY)

    assert raised.type.__module__.split(".")[0] in ("psycopg", "psycopg2")
    assert set(stored(pg_table)) == {"before"}
    broken = [c for c in hook.connections if getattr(c, "statements", None)][-1]
    assert broken.closed
    pg_table.upsert([found("after")], DAY)
    assert set(stored(pg_table)) == {"before", "after"}


def test_nul_characters_are_dropped_from_text_and_json(pg_table: SnapshotTable) -> None:
    user = dataclasses.replace(
        found("nul"), bio="a\x00b", raw={"text": "c\x00d", "list": ["\x00"], "k\x00": 1}
    )

    pg_table.upsert([user], DAY)

    row = stored(pg_table)["nul"]
    assert row["bio"] == "ab"
    assert row["raw"] == {"text": "cd", "list": [""], "k": 1}
