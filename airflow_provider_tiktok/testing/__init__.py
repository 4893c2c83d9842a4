"""A local stand-in for the TikTok APIs, for tests and demos only.

Neither EnsembleData's TikTok API nor the TikTok Research API has a sandbox, so this
package ships a small HTTP server that answers like both of them, on ``127.0.0.1`` only,
with deterministic synthetic users and the faults a test asks for. It is never used unless
a connection's host is pointed at it.

Three ways to use it:

* In-process, as a context manager::

      from airflow_provider_tiktok.testing import StandInServer

      with StandInServer() as server:
          os.environ.update(server.airflow_env())
          ...

* As the pytest fixture ``tiktok_stand_in`` (see :mod:`.pytest_plugin`), which also sets
  ``AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT`` and ``AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT``.
* From the command line: ``python -m airflow_provider_tiktok.testing --port 8765``.

Reserved usernames give the APIs' per-user outcomes: :data:`MISSING_USER`,
:data:`MISSING_USER_473`, :data:`PRIVATE_USER`, :data:`RESTRICTED_USER`,
:data:`UNAVAILABLE_USER` and :data:`INVALID_USER`; every other well-formed username is a
found user. Found users with unusual avatars, for archiving tests: :data:`PNG_AVATAR_USER`,
:data:`OVERSIZE_AVATAR_USER`, :data:`NOT_IMAGE_AVATAR_USER` and :data:`EXPIRED_AVATAR_USER`
(see :data:`RESERVED_AVATARS`). The default credentials are :data:`DEFAULT_ENSEMBLEDATA_TOKEN`,
:data:`DEFAULT_CLIENT_KEY` and :data:`DEFAULT_CLIENT_SECRET`.

The server's names (:class:`StandInServer`, :class:`RequestLog`, :class:`RequestRecord` and
the default credentials) are imported from :mod:`.stand_in` on first use, so importing this
package, or its pytest plugin, loads no HTTP server; the users and faults are plain data.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.testing.faults import (
    DROP,
    ENSEMBLEDATA,
    HTML_ERROR,
    RANDOM_FAULT_KINDS,
    RATE_LIMIT,
    RESEARCH,
    SCOPES,
    SERVER_ERROR,
    SLOW,
    TOKEN,
    FaultConfig,
)
from airflow_provider_tiktok.testing.users import (
    EXPIRED_AVATAR_USER,
    INVALID_USER,
    LARGE_COUNTS_USER,
    MISSING_USER,
    MISSING_USER_473,
    NOT_IMAGE_AVATAR_USER,
    OVERSIZE_AVATAR_USER,
    PNG_AVATAR_USER,
    PRIVATE_USER,
    RESERVED_AVATARS,
    RESERVED_OUTCOMES,
    RESTRICTED_USER,
    UNAVAILABLE_USER,
    ReservedOutcome,
    SyntheticUser,
    sec_uid_for,
    user_for_sec_uid,
    user_for_username,
)

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.stand_in.ensembledata import DEFAULT_ENSEMBLEDATA_TOKEN
    from airflow_provider_tiktok.testing.stand_in.request_log import RequestLog, RequestRecord
    from airflow_provider_tiktok.testing.stand_in.research import (
        DEFAULT_CLIENT_KEY,
        DEFAULT_CLIENT_SECRET,
    )
    from airflow_provider_tiktok.testing.stand_in.server import StandInServer

__all__ = [
    "DEFAULT_CLIENT_KEY",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_ENSEMBLEDATA_TOKEN",
    "DROP",
    "ENSEMBLEDATA",
    "EXPIRED_AVATAR_USER",
    "HTML_ERROR",
    "INVALID_USER",
    "LARGE_COUNTS_USER",
    "MISSING_USER",
    "MISSING_USER_473",
    "NOT_IMAGE_AVATAR_USER",
    "OVERSIZE_AVATAR_USER",
    "PNG_AVATAR_USER",
    "PRIVATE_USER",
    "RANDOM_FAULT_KINDS",
    "RATE_LIMIT",
    "RESEARCH",
    "RESERVED_AVATARS",
    "RESERVED_OUTCOMES",
    "RESTRICTED_USER",
    "SCOPES",
    "SERVER_ERROR",
    "SLOW",
    "TOKEN",
    "UNAVAILABLE_USER",
    "FaultConfig",
    "RequestLog",
    "RequestRecord",
    "ReservedOutcome",
    "StandInServer",
    "SyntheticUser",
    "sec_uid_for",
    "user_for_sec_uid",
    "user_for_username",
]

_STAND_IN_HOMES = {
    "DEFAULT_CLIENT_KEY": "stand_in.research",
    "DEFAULT_CLIENT_SECRET": "stand_in.research",
    "DEFAULT_ENSEMBLEDATA_TOKEN": "stand_in.ensembledata",
    "RequestLog": "stand_in.request_log",
    "RequestRecord": "stand_in.request_log",
    "StandInServer": "stand_in.server",
}


def __getattr__(name: str) -> Any:
    """Import one of the server's names from its module on first use (PEP 562).

    :param name: the attribute asked for.
    """
    home = _STAND_IN_HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
