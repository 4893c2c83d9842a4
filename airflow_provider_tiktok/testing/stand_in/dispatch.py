"""How the stand-in answers a request: route it, inject the faults, answer, log it.

:class:`Dispatcher` is the :class:`~.http.Responder` the HTTP layer talks to. It knows the
route of every path (the fault scope, the method, the emulator's endpoint and its fault
reply), asks :class:`~.faults.FaultState` what to do with each call, and records every
request in the :class:`~.request_log.RequestLog` just before its reply is sent.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from airflow_provider_tiktok.testing.faults import (
    DROP,
    ENSEMBLEDATA,
    RESEARCH,
    SLOW,
    TOKEN,
    FaultDecision,
    FaultState,
)
from airflow_provider_tiktok.testing.stand_in.avatars import AvatarHost, is_avatar_path
from airflow_provider_tiktok.testing.stand_in.ensembledata import (
    USED_UNITS_PATH,
    USER_INFO_FROM_SECUID_PATH,
    USER_INFO_PATH,
    EnsembleDataEmulator,
)
from airflow_provider_tiktok.testing.stand_in.http import (
    Reply,
    Request,
    detail_reply,
    html_gateway_page,
)
from airflow_provider_tiktok.testing.stand_in.request_log import RequestLog, RequestRecord
from airflow_provider_tiktok.testing.stand_in.research import (
    RESEARCH_USER_INFO_PATH,
    TOKEN_PATH,
    ResearchEmulator,
)


@dataclass(frozen=True)
class Route:
    """Where a path goes.

    :param scope: its fault scope (see :mod:`.faults`), or ``None`` for a path that is
        never faulted.
    :param method: the one HTTP method it accepts.
    :param answer: the endpoint.
    :param fault_reply: the reply of an injected 429 or 5xx of this status, in the API's
        shape; ``None`` when ``scope`` is.
    """

    scope: str | None
    method: str
    answer: Callable[[Request], Reply]
    fault_reply: Callable[[int], Reply] | None = None


def _random_fault_key(request: Request) -> str:
    query = urlencode(sorted((k, v) for k, v in request.query.items() if k != "token"))
    return f"{request.method} {request.path}?{query}\n{request.body.decode('utf-8', 'replace')}"


class Dispatcher:
    """The stand-in's answer to each request, faults included.

    :param faults: what to inject.
    :param ensembledata: the EnsembleData emulator.
    :param research: the Research API emulator.
    :param avatars: the image host.
    :param request_log: where every request is recorded.
    :param stopping: set when the server stops, which cuts a slow reply short.
    :param access_log: write a line per request to stderr, as ``http.server`` does.
    :param sleep: how a reply waits out its injected latency.
    """

    def __init__(
        self,
        *,
        faults: FaultState,
        ensembledata: EnsembleDataEmulator,
        research: ResearchEmulator,
        avatars: AvatarHost,
        request_log: RequestLog,
        stopping: threading.Event,
        access_log: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.access_log = access_log
        self._sleep = sleep
        self._faults = faults
        self._request_log = request_log
        self._stopping = stopping
        self._avatar_route = Route(None, "GET", avatars.serve)
        self._routes = {
            USER_INFO_PATH: Route(
                ENSEMBLEDATA, "GET", ensembledata.user_info, ensembledata.fault_reply
            ),
            USER_INFO_FROM_SECUID_PATH: Route(
                ENSEMBLEDATA, "GET", ensembledata.user_info_from_secuid, ensembledata.fault_reply
            ),
            USED_UNITS_PATH: Route(
                ENSEMBLEDATA, "GET", ensembledata.used_units, ensembledata.fault_reply
            ),
            TOKEN_PATH: Route(TOKEN, "POST", research.token, research.token_fault_reply),
            RESEARCH_USER_INFO_PATH: Route(
                RESEARCH, "POST", research.user_info, research.user_info_fault_reply
            ),
        }

    def route(self, path: str) -> Route | None:
        """The route of ``path``, or ``None`` for an unknown path.

        :param path: a request path, without the query string.
        """
        if path in self._routes:
            return self._routes[path]
        if is_avatar_path(path):
            return self._avatar_route
        return None

    def respond(self, request: Request) -> Reply | None:
        """The reply to ``request``, or ``None`` to drop the connection; logs the request.

        :param request: the parsed request.
        """
        route = self.route(request.path)
        scope = route.scope if route is not None else None
        decision = self._faults.decide(scope, _random_fault_key(request))
        if decision.latency:
            self._sleep(decision.latency)
        if decision.kind == DROP:
            self._record(request, None, decision.kind, scope)
            return None
        if decision.kind == SLOW:
            self._stopping.wait(decision.slow_seconds)
        try:
            reply = self._answer(request, route, decision)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            reply = detail_reply(500, f"Stand-in internal error: {error!r}")
        self._record(request, reply.status, decision.kind, scope)
        return reply

    def _answer(self, request: Request, route: Route | None, decision: FaultDecision) -> Reply:
        if route is None:
            return detail_reply(404, "Not Found")
        if route.method != request.method:
            return detail_reply(405, "Method Not Allowed", {"Allow": route.method})
        if decision.status is not None and route.fault_reply is not None:
            return _fault_reply(route.fault_reply, decision)
        return route.answer(request)

    def _record(
        self, request: Request, status: int | None, fault: str | None, scope: str | None
    ) -> None:
        self._request_log.append(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body.decode("utf-8", "replace"),
                status=status,
                fault=fault,
                scope=scope,
                timestamp=request.received,
                connection_id=request.connection_id,
            )
        )


def _fault_reply(api_reply: Callable[[int], Reply], decision: FaultDecision) -> Reply:
    """An injected 429 or 5xx: the API's own error body, or a gateway's HTML page."""
    status = decision.status or 500
    reply = html_gateway_page(status) if decision.html else api_reply(status)
    if status == 429 and decision.retry_after is not None:
        reply.headers["Retry-After"] = f"{decision.retry_after:g}"
    return reply
