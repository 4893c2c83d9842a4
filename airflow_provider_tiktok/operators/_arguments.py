"""The operators' shared options: their defaults and the checks they pass at definition time.

Each ``check_*`` function validates one option of
:class:`~airflow_provider_tiktok.operators.base.TikTokFetchOperator` or of an operator built
on it, and returns the value to store. They run in ``__init__`` for options that are not
templated, so a wrong value fails when the DAG is parsed rather than when the task runs;
templated options (``usernames``, ``fields``, ``snapshot_date``) are checked once rendered.

An operator runs every check through one :class:`ArgumentErrors`, then refuses all the bad
values at once: a DAG file with a typo in two arguments is fixed in one edit, and the
message names the task, so the author of a file with many tasks knows which one to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_tiktok.hooks.image_hosts import ImageHostPolicy
from airflow_provider_tiktok.record import SOURCE_ENSEMBLEDATA, SOURCE_RESEARCH, SOURCES

_Checked = TypeVar("_Checked")

DEFAULT_MAX_WORKERS = 8
"""Users fetched at once by default, over one pooled session."""

MAX_WORKERS_LIMIT = 64
ON_USER_ERROR_CHOICES = ("record", "skip", "fail")
ON_EXHAUSTED_CHOICES = ("fail", "defer")

DEFAULT_MAX_FAILED_FRACTION: float | None = None
"""Off: a task that kept its records fails only for ``on_user_error="fail"``, as before the
option existed, so no DAG that runs today starts failing on upgrade. 0.5 is the value to
set for a scheduled job: more than half the calls failing is an outage, not data."""


class ArgumentErrors:
    """The bad arguments of one task, gathered so that one error names all of them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def check(self, check: Callable[..., _Checked], *args: Any, **kwargs: Any) -> _Checked | None:
        """Run one ``check_*`` function; keep its message instead of raising.

        :param check: the check, which raises ``ValueError`` for a bad value.
        :param args: its positional arguments.
        :param kwargs: its keyword arguments.
        :return: what the check returns, or ``None`` when the value is bad.
        """
        try:
            return check(*args, **kwargs)
        except ValueError as error:
            self.messages.append(str(error))
            return None

    def add(self, message: str) -> None:
        """Record a bad argument found without a ``check_*`` function.

        :param message: what is wrong, naming the argument.
        """
        self.messages.append(message)

    def extend(self, other: ArgumentErrors) -> None:
        """Take over the messages of another collection, keeping their order.

        :param other: the errors gathered before this collection existed.
        """
        self.messages.extend(other.messages)

    def raise_if_any(self, task_id: str) -> None:
        """Refuse every bad argument in one ``ValueError`` that names the task.

        :param task_id: the task's id.
        :raises ValueError: when any argument was bad.
        """
        if not self.messages:
            return
        if len(self.messages) == 1:
            raise ValueError(f"Task {task_id!r}: {self.messages[0]}")
        listed = "; ".join(f"({n}) {message}" for n, message in enumerate(self.messages, 1))
        raise ValueError(f"Task {task_id!r} has {len(self.messages)} invalid arguments: {listed}")


def check_source(value: object) -> str:
    """Validate ``source``: ``"ensembledata"`` or ``"tiktok_research"``.

    :param value: the API to fetch from.
    """
    if value not in SOURCES:
        raise ValueError(
            f"source must be {SOURCE_ENSEMBLEDATA!r} or {SOURCE_RESEARCH!r}; got {value!r}"
        )
    return str(value)


def check_on_user_error(value: str) -> str:
    """Validate an ``on_user_error`` argument.

    :param value: ``"record"``, ``"skip"`` or ``"fail"``.
    """
    if value not in ON_USER_ERROR_CHOICES:
        raise ValueError(
            f"on_user_error must be one of {', '.join(ON_USER_ERROR_CHOICES)}; got {value!r}"
        )
    return value


def check_on_exhausted(value: object, *, name: str) -> str:
    """Validate ``on_quota_exhausted`` / ``on_units_depleted``.

    :param value: ``"fail"`` or ``"defer"``.
    :param name: the argument's name, for the message.
    """
    if value not in ON_EXHAUSTED_CHOICES:
        raise ValueError(f"{name} must be 'fail' or 'defer'; got {value!r}")
    return str(value)


def check_max_workers(value: object) -> int:
    """Validate ``max_workers``: a whole number from 1 to 64.

    :param value: threads calling the API at once.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS_LIMIT:
        raise ValueError(
            f"max_workers must be a whole number from 1 to {MAX_WORKERS_LIMIT}; got {value!r}"
        )
    return value


def check_max_requests_per_second(value: object) -> float | None:
    """Validate ``max_requests_per_second``: ``None`` or a positive number.

    :param value: the client-side rate limit.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"max_requests_per_second must be None or a positive number; got {value!r}"
        )
    return float(value)


def check_max_failed_fraction(value: object) -> float | None:
    """Validate ``max_failed_fraction``: ``None`` (off) or a number from 0 to 1.

    :param value: the largest fraction of lookups that may end ``error``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"max_failed_fraction must be None or a number from 0 to 1; got {value!r}")
    return float(value)


def check_include_raw(value: object) -> bool:
    """Validate ``include_raw``: ``True`` or ``False``.

    :param value: whether the returned records keep their ``raw`` payloads.
    """
    if not isinstance(value, bool):
        raise ValueError(f"include_raw must be True or False; got {value!r}")
    return value


def check_max_units(value: object) -> int | None:
    """Validate ``max_units``: ``None`` or a whole number of 1 or more.

    :param value: the EnsembleData unit budget.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_units must be None or a whole number of 1 or more; got {value!r}")
    return value


def check_avatar_options(
    avatar_storage: object, avatar_storage_conn_id: object, avatar_max_bytes: object
) -> int:
    """Validate the ``avatar_*`` arguments of an operator; return ``avatar_max_bytes``.

    :param avatar_storage: ``None`` or an object-storage URL (a template is fine).
    :param avatar_storage_conn_id: ``None`` or a connection id; needs ``avatar_storage``.
    :param avatar_max_bytes: the largest avatar accepted, a whole number of 1 or more.
    :raises ValueError: naming the wrong argument.
    """
    if avatar_storage is not None and not isinstance(avatar_storage, str):
        raise ValueError(f"avatar_storage must be an object-storage URL; got {avatar_storage!r}")
    if avatar_storage_conn_id is not None:
        if not isinstance(avatar_storage_conn_id, str):
            raise ValueError(
                f"avatar_storage_conn_id must be a connection id; got {avatar_storage_conn_id!r}"
            )
        if avatar_storage is None:
            raise ValueError("avatar_storage_conn_id is given without avatar_storage")
    if (
        isinstance(avatar_max_bytes, bool)
        or not isinstance(avatar_max_bytes, int)
        or avatar_max_bytes < 1
    ):
        raise ValueError(
            f"avatar_max_bytes must be a whole number of 1 or more; got {avatar_max_bytes!r}"
        )
    return avatar_max_bytes


def check_avatar_allowed_hosts(value: object) -> list[str] | None:
    """Validate ``avatar_allowed_hosts``: ``None`` (TikTok's image domains) or host entries.

    :param value: ``None``, or a list of host names, ``*.domain`` patterns and addresses,
        each optionally after ``https://`` or ``http://`` (see
        :mod:`airflow_provider_tiktok.hooks.image_hosts`).
    :raises ValueError: for a value that is not a list of such entries, or an empty list.
    """
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(
            f"avatar_allowed_hosts must be None or a list of image hosts; got {value!r}"
        )
    try:
        ImageHostPolicy.from_entries(value)
    except ValueError as error:
        raise ValueError(f"avatar_allowed_hosts: {error}") from None
    return list(value)
