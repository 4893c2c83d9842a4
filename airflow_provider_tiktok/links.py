"""Operator extra links shown on a task in the Airflow UI."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow_provider_tiktok.compat import BaseOperatorLink, XCom

PROFILE_USERNAME_XCOM_KEY = "tiktok_profile_username"
"""XCom key under which an operator stores the username of its only fetched user."""


def tiktok_profile_url(username: str) -> str:
    """The public profile page of a TikTok user.

    :param username: the bare username.
    """
    return f"https://www.tiktok.com/@{quote(username, safe='._')}"


class TikTokProfileLink(BaseOperatorLink):
    """ "TikTok profile": the profile page, when the task fetched exactly one user."""

    name = "TikTok profile"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The profile URL, or an empty string when the task fetched other than one user."""
        username = XCom.get_value(ti_key=ti_key, key=PROFILE_USERNAME_XCOM_KEY)
        return tiktok_profile_url(username) if username else ""
