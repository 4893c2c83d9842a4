"""The stand-in server: a local stand-in for EnsembleData's TikTok API and the Research API.

**For tests and demos only.** Neither real API has a sandbox, so this server answers like
them, on ``127.0.0.1`` only, with synthetic users (see :mod:`.users`) and the faults a test
asks for (see :mod:`.faults`). It is never the default of a real connection: a connection
reaches it only when its host is set to the URL the server prints.

One server, on one ephemeral port by default, serves both APIs:

* EnsembleData under ``/apis`` (see :mod:`.ensembledata`): ``GET /apis/tt/user/info``,
  ``GET /apis/tt/user/info-from-secuid`` and ``GET /apis/customer/get-used-units``;
  authenticated by the ``token`` query parameter.
* The Research API at the root (see :mod:`.research`): ``POST /v2/oauth/token/`` and
  ``POST /v2/research/user/info/``.
* Avatar images, ``GET /avatars/<user id>.jpeg``, which the payloads link to (see
  :mod:`.avatars`).

:class:`StandInServer` is the facade: it owns the fault state, the emulators, the request
log and the HTTP server (:mod:`.http`, answering through :mod:`.dispatch`), and starts and
stops them together.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from airflow_provider_tiktok.testing.faults import FaultConfig, FaultState
from airflow_provider_tiktok.testing.stand_in.avatars import AvatarHost
from airflow_provider_tiktok.testing.stand_in.dispatch import Dispatcher
from airflow_provider_tiktok.testing.stand_in.ensembledata import (
    DEFAULT_ENSEMBLEDATA_TOKEN,
    ENSEMBLEDATA_PREFIX,
    EnsembleDataEmulator,
)
from airflow_provider_tiktok.testing.stand_in.http import HOST, StandInHTTPServer
from airflow_provider_tiktok.testing.stand_in.request_log import RequestLog
from airflow_provider_tiktok.testing.stand_in.research import (
    DEFAULT_CLIENT_KEY,
    DEFAULT_CLIENT_SECRET,
    ResearchEmulator,
)
from airflow_provider_tiktok.testing.stand_in.timeline import OutcomeTimeline

_SERVE_POLL_INTERVAL = 0.02


class StandInServer:
    """A local stand-in for EnsembleData's TikTok API and the TikTok Research API.

    **For tests and demos only**: synthetic users, configurable faults, ``127.0.0.1`` only.
    Use it as a context manager::

        with StandInServer(faults=FaultConfig(latency=0.05)) as server:
            os.environ.update(server.airflow_env())
            ...

    :param port: the port to listen on; 0 (the default) picks a free one.
    :param faults: the faults to inject from the start; none by default.
    :param ensembledata_token: the EnsembleData API token it accepts.
    :param client_key: the Research API client key it accepts.
    :param client_secret: the Research API client secret it accepts.
    :param access_log: write a line per request to stderr, as ``http.server`` does.
    :param max_log_records: keep only the newest this many records in
        :attr:`request_log`; ``None`` keeps all.
    :param sleep: how a reply waits out its injected ``latency``; tests of the stand-in
        inject a recorder.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        faults: FaultConfig | None = None,
        ensembledata_token: str = DEFAULT_ENSEMBLEDATA_TOKEN,
        client_key: str = DEFAULT_CLIENT_KEY,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        access_log: bool = False,
        max_log_records: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.requested_port = port
        self.ensembledata_token = ensembledata_token
        self.client_key = client_key
        self.client_secret = client_secret
        self.request_log = RequestLog(max_log_records)
        self._faults = FaultState(faults)
        self._avatars = AvatarHost()
        self._ensembledata = EnsembleDataEmulator(
            faults=self._faults, token=ensembledata_token, avatars=self._avatars
        )
        self.timeline = OutcomeTimeline()
        """The Research users' outcome changes by simulated date, and that date."""
        self._research = ResearchEmulator(
            timeline=self.timeline,
            faults=self._faults,
            client_key=client_key,
            client_secret=client_secret,
            avatars=self._avatars,
        )
        self._stopping = threading.Event()
        self._dispatcher = Dispatcher(
            faults=self._faults,
            ensembledata=self._ensembledata,
            research=self._research,
            avatars=self._avatars,
            request_log=self.request_log,
            stopping=self._stopping,
            access_log=access_log,
            sleep=sleep,
        )
        self._httpd: StandInHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def access_log(self) -> bool:
        """Whether a line per request is written to stderr; can be changed while serving."""
        return self._dispatcher.access_log

    @access_log.setter
    def access_log(self, enabled: bool) -> None:
        self._dispatcher.access_log = enabled

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "not started"
        return f"<StandInServer {where}>"

    # Life cycle

    def start(self) -> StandInServer:
        """Start listening and serving in a background thread; return the server."""
        if self._httpd is not None:
            raise RuntimeError("The stand-in server is already started")
        self._stopping.clear()
        self._httpd = StandInHTTPServer(self.requested_port, self._dispatcher)
        self._avatars.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _SERVE_POLL_INTERVAL},
            name=f"tiktok-stand-in-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open client connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Where it is

    def _server(self) -> StandInHTTPServer:
        if self._httpd is None:
            raise RuntimeError("The stand-in server is not started: call start() first")
        return self._httpd

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._server().server_port

    @property
    def base_url(self) -> str:
        """Its root URL, ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def ensembledata_url(self) -> str:
        """The EnsembleData base URL, ``http://127.0.0.1:PORT/apis``: a connection's host."""
        return self.base_url + ENSEMBLEDATA_PREFIX

    @property
    def research_url(self) -> str:
        """The Research API base URL, ``http://127.0.0.1:PORT``: a connection's host."""
        return self.base_url

    # Airflow connections

    def ensembledata_connection(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """An ``ensembledata`` Airflow connection (as a dict) pointing at this server.

        :param extra: the connection's extras, for example ``{"timeout": 2}``.
        """
        connection: dict[str, Any] = {
            "conn_type": "ensembledata",
            "password": self.ensembledata_token,
            "host": self.ensembledata_url,
        }
        if extra:
            connection["extra"] = dict(extra)
        return connection

    def research_connection(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A ``tiktok_research`` Airflow connection (as a dict) pointing at this server.

        :param extra: the connection's extras, for example ``{"timeout": 2}``.
        """
        connection: dict[str, Any] = {
            "conn_type": "tiktok_research",
            "login": self.client_key,
            "password": self.client_secret,
            "host": self.research_url,
        }
        if extra:
            connection["extra"] = dict(extra)
        return connection

    def airflow_env(
        self,
        ensembledata_conn_id: str = "ensembledata_default",
        tiktok_research_conn_id: str = "tiktok_research_default",
    ) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` environment variables defining both connections, as JSON.

        :param ensembledata_conn_id: the id of the ``ensembledata`` connection.
        :param tiktok_research_conn_id: the id of the ``tiktok_research`` connection.
        """
        return {
            f"AIRFLOW_CONN_{ensembledata_conn_id.upper()}": json.dumps(
                self.ensembledata_connection()
            ),
            f"AIRFLOW_CONN_{tiktok_research_conn_id.upper()}": json.dumps(
                self.research_connection()
            ),
        }

    # Faults and usage

    @property
    def faults(self) -> FaultConfig:
        """A snapshot of the fault configuration, with the counted faults that remain."""
        return self._faults.snapshot()

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change the faults while serving (thread-safe); return the new configuration.

        ``server.set_faults(rate_limit_next=2, retry_after=1)`` changes two fields and keeps
        the others; ``server.set_faults(FaultConfig(...))`` replaces the whole
        configuration. Either way the seeded random faults start again from their seed.

        :param config: a whole new configuration; ``None`` to change the current one.
        :param changes: fields of :class:`~.faults.FaultConfig` to change.
        """
        return self._faults.configure(config, **changes)

    def clear_faults(self) -> None:
        """Remove every fault and limit: back to a well-behaved server."""
        self._faults.configure(FaultConfig())

    def expire_access_tokens(self) -> None:
        """Make every Research access token issued so far invalid, now."""
        self._research.expire_access_tokens()

    def reset_daily_usage(self) -> None:
        """Start a new day: no EnsembleData units used, no Research requests counted."""
        self._ensembledata.reset_usage()
        self._research.reset_quota()

    def schedule_outcome(self, username: str, on: dt.date, outcome: str | None) -> None:
        """From simulated date ``on``, the Research API answers for ``username`` as ``outcome``.

        :param username: the user.
        :param on: the first simulated date of the change.
        :param outcome: a reserved username (:data:`~.users.PRIVATE_USER`,
            :data:`~.users.MISSING_USER`...) whose reply to give, or ``None`` for found.
        """
        self.timeline.schedule(username, on, outcome)

    def move_clock(self, day: dt.date) -> None:
        """Move the simulated date to ``day``; a new day resets the daily quota and units.

        :param day: the new simulated date.
        """
        if day != self.timeline.today:
            self.reset_daily_usage()
        self.timeline.move_to(day)

    def units_used(self, date: dt.date | str | None = None) -> int:
        """EnsembleData units charged on ``date`` (UTC), today by default.

        :param date: the day, as a date (a datetime gives its date) or ``YYYY-MM-DD``.
        """
        if isinstance(date, dt.datetime):
            date = date.date()
        return self._ensembledata.units_used(None if date is None else str(date))

    @property
    def research_requests_used(self) -> int:
        """Query User Info calls counted against the daily quota since the last reset."""
        return self._research.requests_counted

    @property
    def access_tokens_issued(self) -> int:
        """How many Research access tokens the token endpoint has issued."""
        return self._research.tokens_issued

    @property
    def issued_access_tokens(self) -> list[str]:
        """Every Research access token the token endpoint has issued, oldest first.

        Expired and revoked ones included: a leak test searches logs for each of them.
        """
        return self._research.issued_tokens()
