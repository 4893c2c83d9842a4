"""The log of the requests a stand-in received, for a test's assertions.

Requests are recorded as they are answered (or dropped), with what was answered and which
fault, if any, was injected; paths are as served, and an EnsembleData path may be asked for
without its ``/apis`` prefix.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_tiktok.testing.stand_in.ensembledata import ENSEMBLEDATA_PREFIX


@dataclass(frozen=True)
class RequestRecord:
    """One request the stand-in received.

    :param method: the HTTP method.
    :param path: the path, without the query string (``/apis/tt/user/info``).
    :param query: the query parameters (the first value of each).
    :param headers: the request headers.
    :param body: the request body, decoded as UTF-8.
    :param status: the HTTP status answered, or ``None`` when the connection was dropped.
    :param fault: the injected fault (a kind from :mod:`.faults`), or ``None``.
    :param scope: the API the path belongs to (a scope from :mod:`.faults`), or ``None``.
    :param timestamp: when the request arrived, as a Unix time.
    :param connection_id: which client connection carried it: equal ids mean keep-alive.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: str
    status: int | None
    fault: str | None
    scope: str | None
    timestamp: float
    connection_id: int

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


def _path_matches(record_path: str, path: str) -> bool:
    return record_path in (path, ENSEMBLEDATA_PREFIX + path)


class RequestLog:
    """The requests a stand-in received; safe to read while it serves.

    A request is recorded when it is answered (or dropped), just before its reply is
    sent: a client that has its reply finds the request here. Records are in the order
    the requests were answered, which differs from the order of their ``timestamp``
    (arrival) for slow replies and concurrent clients.

    :param max_records: keep only the newest this many records; ``None`` keeps all.
    """

    def __init__(self, max_records: int | None = None) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        """Record one request.

        :param record: the request.
        """
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        """A copy of every record."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records)

    def requests_for(self, path: str, *, method: str | None = None) -> list[RequestRecord]:
        """The requests to ``path``.

        :param path: the path as served (``/apis/tt/user/info``); an EnsembleData path may
            leave out the ``/apis`` prefix (``/tt/user/info``).
        :param method: only requests with this HTTP method.
        """
        return [
            record
            for record in self.records
            if _path_matches(record.path, path) and (method is None or record.method == method)
        ]

    def count(self, path: str | None = None, *, status: int | None = None) -> int:
        """How many requests were received, to ``path`` and answered ``status`` if given.

        :param path: as in :meth:`requests_for`; ``None`` for every path.
        :param status: only requests answered with this status.
        """
        records = self.records if path is None else self.requests_for(path)
        return sum(1 for record in records if status is None or record.status == status)

    def statuses(self, path: str | None = None) -> list[int | None]:
        """The statuses answered, in the log's order (``None`` for a dropped connection).

        :param path: as in :meth:`requests_for`; ``None`` for every path.
        """
        records = self.records if path is None else self.requests_for(path)
        return [record.status for record in records]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
