"""A small ``requests`` client of a live stand-in, for the stand-in's own tests."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from airflow_provider_tiktok.testing import StandInServer

ALL_RESEARCH_FIELDS = (
    "display_name,bio_description,bio_url,avatar_url,is_verified,"
    "follower_count,following_count,likes_count,video_count"
)


class StandInClient:
    """Plain ``requests`` calls against a live stand-in, with its default credentials.

    :param server: the started stand-in.
    :param session: the keep-alive session to send with.
    """

    def __init__(self, server: StandInServer, session: requests.Session) -> None:
        self.server = server
        self.session = session

    def ensembledata(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        timeout: float = 5.0,
        **params: str,
    ) -> requests.Response:
        """``GET`` an EnsembleData path (``/tt/user/info``), with the server's token unless
        ``query`` or ``params`` name another one."""
        merged = {"token": self.server.ensembledata_token, **(query or {}), **params}
        return self.session.get(self.server.ensembledata_url + path, params=merged, timeout=timeout)

    def user_info(
        self, username: str, *, token: str | None = None, timeout: float = 5.0
    ) -> requests.Response:
        """EnsembleData ``/tt/user/info`` for ``username``."""
        query = {"username": username}
        if token is not None:
            query["token"] = token
        return self.ensembledata("/tt/user/info", query, timeout=timeout)

    def token_reply(
        self, form: Mapping[str, str] | None = None, **fields: str
    ) -> requests.Response:
        """``POST /v2/oauth/token/`` with the server's client credentials unless overridden."""
        data = {
            "client_key": self.server.client_key,
            "client_secret": self.server.client_secret,
            "grant_type": "client_credentials",
            **(form or {}),
            **fields,
        }
        return self.session.post(
            self.server.research_url + "/v2/oauth/token/", data=data, timeout=5
        )

    def access_token(self) -> str:
        """A fresh access token."""
        reply = self.token_reply()
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["access_token"]
        return token

    def research(
        self,
        username: str,
        *,
        token: str | None = None,
        fields: str = ALL_RESEARCH_FIELDS,
        timeout: float = 5.0,
    ) -> requests.Response:
        """Query User Info for ``username``, with a fresh token unless one is given."""
        bearer = token if token is not None else self.access_token()
        return self.session.post(
            self.server.research_url + "/v2/research/user/info/",
            params={"fields": fields},
            json={"username": username},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=timeout,
        )


def no_sleep(seconds: float) -> None:
    """A hook's ``sleep``: retries without waiting, so fault tests stay fast."""
