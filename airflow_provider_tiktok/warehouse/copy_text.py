"""PostgreSQL's ``COPY`` text format, written by hand for psycopg2, which has no row writer.

psycopg 3 escapes and encodes rows itself (``Copy.write_row``, in C), and faster: see
:mod:`~airflow_provider_tiktok.warehouse.postgres_copy`. psycopg2's ``copy_expert`` reads a
file of ``COPY`` text; :class:`CopyTextReader` is that file, formatted as it is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def copy_text_value(value: Any) -> str:
    """One value in ``COPY`` text format: ``\\N`` for NULL, specials backslash-escaped.

    :param value: text, a number, a flag, a date or a datetime, or ``None``.
    """
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if _SPECIAL.search(value) is None:
            return value
        return _SPECIAL.sub(lambda match: _ESCAPES[match.group()], value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class CopyTextReader:
    """The rows as a file of ``COPY`` text format that psycopg2's ``copy_expert`` reads.

    Lines are formatted as the driver reads, so formatting overlaps the server's parsing.

    :param rows: the rows, in the order of the ``COPY`` statement's columns.
    """

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self._lines: Iterator[str] = ("\t".join(map(copy_text_value, row)) + "\n" for row in rows)
        self._pending = ""

    def read(self, size: int = -1) -> str:
        """Up to ``size`` characters (all that remain when ``size`` is negative).

        :param size: how many characters at most; negative for all.
        """
        parts = [self._pending]
        length = len(self._pending)
        while size < 0 or length < size:
            line = next(self._lines, None)
            if line is None:
                break
            parts.append(line)
            length += len(line)
        text = "".join(parts)
        if size < 0:
            size = len(text)
        self._pending = text[size:]
        return text[:size]
