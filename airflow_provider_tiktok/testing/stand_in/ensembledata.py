"""The stand-in's emulator of EnsembleData's TikTok API, served under ``/apis``.

``GET /apis/tt/user/info``, ``GET /apis/tt/user/info-from-secuid`` and
``GET /apis/customer/get-used-units``, authenticated by the ``token`` query parameter.
Errors are FastAPI's ``{"detail": ...}``, with EnsembleData's own statuses (491 a wrong
token, 463 and 471-474 the per-user outcomes, 495 the units depleted) and its
``units_charged`` header. Units are counted per UTC day, as EnsembleData counts them.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from typing import Any

from airflow_provider_tiktok.testing.faults import FaultState
from airflow_provider_tiktok.testing.stand_in.avatars import AvatarHost
from airflow_provider_tiktok.testing.stand_in.http import (
    REASONS,
    Reply,
    Request,
    detail_reply,
    json_reply,
)
from airflow_provider_tiktok.testing.users import (
    ensembledata_secuid_alternative_payload,
    ensembledata_secuid_payload,
    ensembledata_user_info_payload,
    is_valid_sec_uid,
    is_valid_username,
    reserved_outcome,
    user_for_sec_uid,
    user_for_username,
    username_from_sec_uid,
)

DEFAULT_ENSEMBLEDATA_TOKEN = "stand-in-token"
"""The EnsembleData API token the stand-in accepts unless told otherwise."""

ENSEMBLEDATA_PREFIX = "/apis"
"""The path under which the stand-in serves EnsembleData, as ``https://ensembledata.com/apis``."""

USER_INFO_PATH = ENSEMBLEDATA_PREFIX + "/tt/user/info"
USER_INFO_FROM_SECUID_PATH = ENSEMBLEDATA_PREFIX + "/tt/user/info-from-secuid"
USED_UNITS_PATH = ENSEMBLEDATA_PREFIX + "/customer/get-used-units"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE_VALUES = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE_VALUES = frozenset({"false", "0", "no", "off", "f", "n"})


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def _charged_detail(status: int, detail: Any, units_charged: int) -> Reply:
    return detail_reply(status, detail, {"units_charged": str(units_charged)})


def _missing_params(names: list[str]) -> Reply:
    return detail_reply(
        422,
        [
            {"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}
            for name in names
        ],
    )


class EnsembleDataEmulator:
    """EnsembleData's endpoints: the token check, the users and the units used per day.

    :param faults: the stand-in's faults, for ``units_limit``.
    :param token: the API token it accepts.
    :param avatars: the image host the payloads' avatar URLs point at.
    """

    def __init__(self, *, faults: FaultState, token: str, avatars: AvatarHost) -> None:
        self._faults = faults
        self._token = token
        self._avatars = avatars
        self._lock = threading.Lock()
        self._units_by_date: dict[str, int] = {}

    def units_used(self, date: str | None = None) -> int:
        """Units charged on ``date`` (``YYYY-MM-DD``, UTC), today by default.

        :param date: the day.
        """
        with self._lock:
            return self._units_by_date.get(_today() if date is None else date, 0)

    def reset_usage(self) -> None:
        """Forget the units used on every day."""
        with self._lock:
            self._units_by_date.clear()

    def _refused(self, request: Request, required: tuple[str, ...]) -> Reply | None:
        missing = [name for name in (*required, "token") if not request.query.get(name)]
        if missing:
            return _missing_params(missing)
        if not secrets.compare_digest(request.query["token"], self._token):
            return detail_reply(491, "Invalid token")
        return None

    def _charge_for(self, outcome: Reply, units: int) -> Reply:
        """Charge ``units`` for a successful ``outcome``, or answer 495 when depleted."""
        limit = self._faults.snapshot().units_limit
        today = _today()
        with self._lock:
            used = self._units_by_date.get(today, 0)
            if limit is not None and used >= limit:
                return _charged_detail(
                    495, "Units depleted: the daily unit limit is reached", units_charged=0
                )
            if outcome.status == 200:
                self._units_by_date[today] = used + units
        return outcome

    def _reserved_reply(self, username: str | None) -> Reply | None:
        outcome = reserved_outcome(username) if username is not None else None
        if outcome is None:
            return None
        reply = _charged_detail(
            outcome.ensembledata_status, outcome.ensembledata_detail, units_charged=0
        )
        return self._charge_for(reply, 0)

    def _found(self, payload: dict[str, Any]) -> Reply:
        return self._charge_for(json_reply(200, {"data": payload}, {"units_charged": "1"}), 1)

    def user_info(self, request: Request) -> Reply:
        """``GET /apis/tt/user/info?username=...``: the camelCase ``user`` and ``stats``.

        :param request: the request.
        """
        refused = self._refused(request, ("username",))
        if refused is not None:
            return refused
        username = request.query["username"]
        if not is_valid_username(username):
            return self._charge_for(_charged_detail(463, "Invalid user", units_charged=0), 0)
        reserved = self._reserved_reply(username)
        if reserved is not None:
            return reserved
        user = user_for_username(username)
        return self._found(ensembledata_user_info_payload(user, self._avatars.links(user)))

    def user_info_from_secuid(self, request: Request) -> Reply:
        """``GET /apis/tt/user/info-from-secuid?secUid=...``: the snake_case ``user``.

        ``alternative_method=true`` answers the third shape.

        :param request: the request.
        """
        refused = self._refused(request, ("secUid",))
        if refused is not None:
            return refused
        alternative = request.query.get("alternative_method", "false").lower()
        if alternative not in _TRUE_VALUES | _FALSE_VALUES:
            return detail_reply(
                422,
                [
                    {
                        "type": "bool_parsing",
                        "loc": ["query", "alternative_method"],
                        "msg": "Input should be a valid boolean, unable to interpret input",
                        "input": request.query["alternative_method"],
                    }
                ],
            )
        sec_uid = request.query["secUid"]
        if not is_valid_sec_uid(sec_uid):
            return self._charge_for(_charged_detail(463, "Invalid user", units_charged=0), 0)
        reserved = self._reserved_reply(username_from_sec_uid(sec_uid))
        if reserved is not None:
            return reserved
        user = user_for_sec_uid(sec_uid)
        if alternative in _TRUE_VALUES:
            payload = ensembledata_secuid_alternative_payload(user, self._avatars.links(user))
        else:
            payload = ensembledata_secuid_payload(user, self._avatars.links(user))
        return self._found(payload)

    def used_units(self, request: Request) -> Reply:
        """``GET /apis/customer/get-used-units?date=YYYY-MM-DD``: free of charge.

        :param request: the request.
        """
        refused = self._refused(request, ("date",))
        if refused is not None:
            return refused
        date = request.query["date"]
        try:
            if not _DATE.fullmatch(date):
                raise ValueError(date)
            dt.date.fromisoformat(date)
        except ValueError:
            return detail_reply(
                422,
                [
                    {
                        "type": "date_from_datetime_parsing",
                        "loc": ["query", "date"],
                        "msg": "Input should be a valid date in the format YYYY-MM-DD",
                        "input": date,
                    }
                ],
            )
        return json_reply(200, {"data": self.units_used(date)}, {"units_charged": "0"})

    def fault_reply(self, status: int) -> Reply:
        """An injected 429 or 5xx, in EnsembleData's shape.

        :param status: the HTTP status.
        """
        detail = "Rate limit exceeded" if status == 429 else REASONS.get(status, "Error")
        return detail_reply(status, detail)
