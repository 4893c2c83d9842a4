"""One DB-API connection of a common.sql hook, opened on first use and kept until closed.

The snapshot table and the compliance operator's row reader each keep one connection for
all their statements, so a long task does not look the connection up and log in again for
each chunk. This is the one place that opens and closes it.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, TypeVar

_Self = TypeVar("_Self", bound="KeptConnection")


class KeptConnection:
    """A hook's connection, opened on first use; close it with :meth:`close` or ``with``.

    :param hook: the common.sql hook whose ``get_conn()`` opens the connection.
    """

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self._connection: Any = None

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connection(self) -> Any:
        """The open DB-API connection (opened on first use)."""
        if self._connection is None:
            self._connection = self.hook.get_conn()
        return self._connection

    def close(self) -> None:
        """Close the kept connection, if there is one; the next use opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
