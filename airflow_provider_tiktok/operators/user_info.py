"""Operators that fetch TikTok user info into XCom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_tiktok.compat import AirflowFailException, BaseOperator, Context
from airflow_provider_tiktok.fetching import (
    build_user_source,
    check_max_units,
    check_max_workers,
    check_on_user_error,
    failed_lookups,
    fetch_users,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook, validate_fields
from airflow_provider_tiktok.links import PROFILE_USERNAME_XCOM_KEY, TikTokProfileLink
from airflow_provider_tiktok.lookups import Lookup, build_lookups
from airflow_provider_tiktok.users import SOURCE_ENSEMBLEDATA, SOURCE_RESEARCH, TikTokUser

DEFAULT_MAX_WORKERS = 8


class _UserInfoOperator(BaseOperator):
    """Shared behaviour of the user-info operators: validate, fetch, apply on_user_error."""

    operator_extra_links = (TikTokProfileLink(),)
    ui_color = "#fe2c55"
    source: str

    def __init__(
        self,
        *,
        on_user_error: str = "record",
        max_workers: int = DEFAULT_MAX_WORKERS,
        max_requests_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_user_error = check_on_user_error(on_user_error)
        self.max_workers = check_max_workers(max_workers)
        self.max_requests_per_second = max_requests_per_second

    def _lookups(self) -> list[Lookup]:
        raise NotImplementedError

    def _fetch(self, lookups: list[Lookup]) -> list[TikTokUser]:
        raise NotImplementedError

    def _run(self, context: Context, source_kwargs: dict[str, Any], max_units: int | None) -> Any:
        lookups = self._lookups()
        user_source = build_user_source(
            self.source,
            max_workers=self.max_workers,
            max_requests_per_second=self.max_requests_per_second,
            **source_kwargs,
        )
        fetched: list[tuple[int, TikTokUser]] = []
        fetch_users(
            user_source,
            lookups,
            total=len(lookups),
            max_workers=self.max_workers,
            max_units=max_units,
            on_user=lambda index, user: fetched.append((index, user)),
        )
        users = [user for _, user in sorted(fetched, key=lambda pair: pair[0])]
        failures = failed_lookups(users)
        if failures and self.on_user_error == "fail":
            raise AirflowFailException(
                f"{len(failures)} of {len(users)} lookups failed: " + "; ".join(failures)
            )
        if self.on_user_error == "skip":
            users = [user for user in users if user.status == "found"]
        profile = users[0].username if len(users) == 1 else None
        context["ti"].xcom_push(key=PROFILE_USERNAME_XCOM_KEY, value=profile)
        return [user.to_dict() for user in users]


class EnsembleDataUserInfoOperator(_UserInfoOperator):
    """Fetch TikTok user info through EnsembleData and return the records to XCom.

    The return value is a list of :meth:`TikTokUser.to_dict` records in input order, one
    per distinct normalized lookup.

    :param usernames: usernames, ``@handles`` or profile URLs: one string, a list, or a
        rendered template (a JSON list or a comma/space separated string). Templated.
    :param sec_uids: sec_uids instead of usernames (give exactly one of the two). Templated.
    :param alternative_method: use EnsembleData's alternative method for sec_uid lookups.
    :param ensembledata_conn_id: the ``ensembledata`` connection. Templated.
    :param on_user_error: what to do with a user that is not found, private, restricted,
        invalid or failed: ``"record"`` keeps a row with that status, ``"skip"`` leaves it
        out, ``"fail"`` fetches the rest then fails naming every failed lookup.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_units: stop before the units charged would pass this budget.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    """

    template_fields: Sequence[str] = ("usernames", "sec_uids", "ensembledata_conn_id")
    source = SOURCE_ENSEMBLEDATA

    def __init__(
        self,
        *,
        usernames: str | list[str] | None = None,
        sec_uids: str | list[str] | None = None,
        alternative_method: bool = False,
        ensembledata_conn_id: str = EnsembleDataHook.default_conn_name,
        max_units: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (usernames is None) == (sec_uids is None):
            raise ValueError(f"{self.task_id}: give exactly one of usernames and sec_uids")
        self.usernames = usernames
        self.sec_uids = sec_uids
        self.alternative_method = alternative_method
        self.ensembledata_conn_id = ensembledata_conn_id
        self.max_units = check_max_units(max_units)

    def _lookups(self) -> list[Lookup]:
        return build_lookups(self.usernames, self.sec_uids)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Fetch every user and return the records."""
        result: list[dict[str, Any]] = self._run(
            context,
            {
                "ensembledata_conn_id": self.ensembledata_conn_id,
                "alternative_method": self.alternative_method,
            },
            self.max_units,
        )
        return result


class TikTokResearchUserInfoOperator(_UserInfoOperator):
    """Fetch TikTok user info through the TikTok Research API and return the records to XCom.

    The return value is a list of :meth:`TikTokUser.to_dict` records in input order, one
    per distinct normalized username.

    :param usernames: usernames, ``@handles`` or profile URLs: one string, a list, or a
        rendered template (a JSON list or a comma/space separated string). Templated.
    :param fields: the Research API fields to ask for; all documented fields when ``None``.
        Templated.
    :param tiktok_research_conn_id: the ``tiktok_research`` connection. Templated.
    :param on_user_error: ``"record"``, ``"skip"`` or ``"fail"``, as for
        :class:`EnsembleDataUserInfoOperator`.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    """

    template_fields: Sequence[str] = ("usernames", "fields", "tiktok_research_conn_id")
    source = SOURCE_RESEARCH

    def __init__(
        self,
        *,
        usernames: str | list[str],
        fields: list[str] | str | None = None,
        tiktok_research_conn_id: str = TikTokResearchHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.usernames = usernames
        self.fields = fields
        self.tiktok_research_conn_id = tiktok_research_conn_id

    def _lookups(self) -> list[Lookup]:
        return build_lookups(usernames=self.usernames)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Fetch every user and return the records."""
        fields = None if self.fields is None else validate_fields(self.fields)
        result: list[dict[str, Any]] = self._run(
            context,
            {"tiktok_research_conn_id": self.tiktok_research_conn_id, "fields": fields},
            None,
        )
        return result
