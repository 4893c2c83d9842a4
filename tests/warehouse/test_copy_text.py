"""COPY text format for psycopg2: escapes, NULLs, and reading in pieces."""

from __future__ import annotations

from airflow_provider_tiktok.warehouse.copy_text import CopyTextReader
from tests.warehouse.fakes import DAY


def test_copy_text_reader_escapes_and_reads_in_pieces() -> None:
    rows = [
        ("a\tb", None, True, False, 12, DAY, "back\\slash\nline\rcr", ""),
        ("second", "\\N", None, None, None, None, "plain", "x"),
    ]
    expected = (
        "a\\tb\t\\N\tt\tf\t12\t2026-11-01\tback\\\\slash\\nline\\rcr\t\n"
        "second\t\\\\N\t\\N\t\\N\t\\N\t\\N\tplain\tx\n"
    )

    assert CopyTextReader(rows).read() == expected
    reader = CopyTextReader(rows)
    pieces = []
    while piece := reader.read(7):
        assert len(piece) <= 7
        pieces.append(piece)
    assert "".join(pieces) == expected
