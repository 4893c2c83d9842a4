"""The base of both TikTok hooks: the Airflow connection, its settings and the HTTP client.

A hook reads its Airflow connection once (checking its type), turns the connection's
extras and the constructor's arguments into timeouts, retries and a rate limit, and sends
every call through the HTTP client of :mod:`~airflow_provider_tiktok.hooks.http_client`:
one pooled session, retries with backoff, redaction. Subclasses say how to authenticate
and how to read their API's error replies (:meth:`TikTokBaseHook._classify_error`); the
connection form and the registration of secrets are shared here.

Importing this module imports neither ``requests`` nor ``tenacity``: the session and the
retry policy import them when they are first built.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_tiktok.compat import BaseHook, mask_secret
from airflow_provider_tiktok.hooks import http_client, image_download
from airflow_provider_tiktok.hooks.connection_forms import (
    connection_form_widgets,
    ui_field_behaviour,
)
from airflow_provider_tiktok.hooks.http_client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_POOL_SIZE,
    DEFAULT_TIMEOUT,
    JsonObject,
)
from airflow_provider_tiktok.hooks.image_download import DEFAULT_MAX_IMAGE_BYTES, DownloadedImage
from airflow_provider_tiktok.hooks.image_hosts import ImageHostPolicy
from airflow_provider_tiktok.hooks.rate_limit import RateLimiter
from airflow_provider_tiktok.redaction import register_secret

if TYPE_CHECKING:
    import requests
    from tenacity import RetryCallState, Retrying

    from airflow_provider_tiktok.exceptions import TikTokApiError
    from airflow_provider_tiktok.hooks.guarded_connection import Resolver
    from airflow_provider_tiktok.hooks.http_client import RequestAuth

_Number = TypeVar("_Number", int, float)

_FORM_METHODS = ("get_connection_form_widgets", "get_ui_field_behaviour")


class TikTokBaseHook(BaseHook):
    """Base class of the TikTok hooks: one pooled session, timeouts, retries and redaction.

    :param conn_id: the Airflow connection to read credentials and settings from; kept
        under the subclass's ``conn_name_attr`` (``ensembledata_conn_id``...), as Airflow's
        hooks do, and read back as :attr:`conn_id`.
    :param timeout: read timeout of every call in seconds; overrides the connection's
        ``timeout`` extra.
    :param max_retries: retries of a transient failure (429, 5xx, timeouts, resets);
        overrides the connection's ``max_retries`` extra.
    :param max_retry_wait: upper bound, in seconds, of the time one call may spend
        waiting between its retries.
    :param pool_size: connections kept open to the API; give at least the number of
        threads sharing the hook.
    :param max_requests_per_second: client-side rate limit shared by all threads.
    :param sleep: the sleep function used between retries; tests inject a fake one.
    :param resolver: resolves the host names of image downloads (``(host, port)`` to IP
        addresses); the system's resolver when ``None``; tests inject a stub.
    """

    conn_name_attr: ClassVar[str]
    conn_type: ClassVar[str]
    api_name: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_requests_per_second: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__()
        self._resolver = resolver
        self._image_sessions: dict[ImageHostPolicy, requests.Session] = {}
        self._image_sessions_lock = threading.Lock()
        setattr(self, self.conn_name_attr, conn_id)
        self._timeout_override = timeout
        self._max_retries_override = max_retries
        self.max_retry_wait = max_retry_wait
        self.pool_size = pool_size
        self.max_requests_per_second = max_requests_per_second
        self._sleep = sleep
        self._rate_limiter = (
            RateLimiter(max_requests_per_second, sleep=sleep)
            if max_requests_per_second is not None
            else None
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give every hook class the connection-form methods in its own ``__dict__``.

        Airflow before 3.2 asks the hooks for their connection forms, and looks for the two
        methods only among a class's own attributes, never inherited ones. Each hook class
        gets a reference to the ones defined once below.
        """
        super().__init_subclass__(**kwargs)
        for name in _FORM_METHODS:
            if name not in cls.__dict__:
                setattr(cls, name, TikTokBaseHook.__dict__[name])

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return the labels, placeholders and hidden fields of the connection form."""
        return ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the extra fields of the connection form, for Airflow before 3.2."""
        return connection_form_widgets(cls.conn_type)

    @property
    def conn_id(self) -> str:
        """The id of the Airflow connection this hook reads."""
        conn_id: str = getattr(self, self.conn_name_attr)
        return conn_id

    @staticmethod
    def _register_secret(secret: str) -> None:
        """Hide ``secret`` from Airflow's task logs and from the provider's own texts.

        Airflow's secrets masker covers what Airflow logs; the provider's redaction covers
        exception texts and urllib3's log lines, which the masker does not always reach.
        """
        mask_secret(secret)
        register_secret(secret)

    @cached_property
    def connection(self) -> Any:
        """The Airflow connection, looked up on first use.

        :raises ValueError: when the connection is of another type (a database connection
            given as the API connection, say), before anything is sent anywhere.
        """
        connection = self.get_connection(self.conn_id)
        if connection.conn_type != self.conn_type:
            raise ValueError(
                f"Connection {self.conn_id!r} is of type {connection.conn_type!r}, not "
                f"{self.conn_type!r}: give the {self.api_name} hook a {self.conn_type!r} "
                "connection"
            )
        return connection

    def _extra(self, name: str) -> Any:
        extras: Mapping[str, Any] = self.connection.extra_dejson
        value = extras.get(name)
        if value in (None, ""):
            value = extras.get(f"extra__{self.conn_type}__{name}")
        return None if value == "" else value

    @cached_property
    def base_url(self) -> str:
        """The API's base URL: the connection's host when set, else the public API."""
        host = (self.connection.host or "").strip()
        if not host:
            return self.default_base_url
        if "://" not in host:
            host = f"https://{host}"
        return host.rstrip("/")

    @cached_property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout of every call, in seconds."""
        read = self._timeout_override
        if read is None:
            configured = self._number_extra("timeout", float)
            read = DEFAULT_TIMEOUT if configured is None else configured
        if not read > 0:
            raise ValueError(
                f"timeout must be a positive number of seconds, got {read!r} "
                f"(connection {self.conn_id!r})"
            )
        return (min(DEFAULT_CONNECT_TIMEOUT, read), read)

    @cached_property
    def max_retries(self) -> int:
        """How many times a transient failure is retried."""
        retries = self._max_retries_override
        if retries is None:
            configured = self._number_extra("max_retries", int)
            retries = DEFAULT_MAX_RETRIES if configured is None else configured
        if retries < 0:
            raise ValueError(
                f"max_retries must be 0 or more, got {retries!r} (connection {self.conn_id!r})"
            )
        return retries

    @cached_property
    def max_reply_bytes(self) -> int:
        """The largest API reply read: the connection's ``max_reply_bytes`` extra, else 4 MiB."""
        configured = self._number_extra("max_reply_bytes", int)
        limit = DEFAULT_MAX_REPLY_BYTES if configured is None else configured
        if limit < 1:
            raise ValueError(
                f"max_reply_bytes must be 1 or more, got {limit!r} (connection {self.conn_id!r})"
            )
        return limit

    def _number_extra(self, name: str, kind: type[_Number]) -> _Number | None:
        """A numeric extra of the connection, or ``None`` when it is not set."""
        value = self._extra(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise TypeError(value)
            number = kind(value)
            if kind is int and number != float(value):
                raise ValueError(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Connection {self.conn_id!r} has an invalid {name!r} extra: {value!r} is not "
                f"a {'whole number' if kind is int else 'number'}"
            ) from None
        return number

    @cached_property
    def session(self) -> requests.Session:
        """The one pooled HTTP session of this hook, created on first use."""
        return http_client.new_session(self.pool_size, self._session_auth())

    def get_conn(self) -> requests.Session:
        """Return the hook's pooled session."""
        return self.session

    def close(self) -> None:
        """Close the pooled connections of this hook, those of image downloads included."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]
        with self._image_sessions_lock:
            for image_session in self._image_sessions.values():
                image_session.close()
            self._image_sessions.clear()

    def _session_auth(self) -> RequestAuth | None:
        """The credential attached to every request of the session, if any."""
        return None

    def _classify_error(
        self, response: requests.Response, body: JsonObject | None
    ) -> TikTokApiError | None:
        """Return the error that a reply stands for in this API's own terms, if any.

        Called once for every reply, successful or not; it never raises. The HTTP client
        raises the error returned. ``None`` means that the API's own format reports no
        error: the body is then the call's result when it is a JSON object, and otherwise
        the reply is unreadable (a proxy's page, a wrong base URL) and its status alone
        decides (:func:`~airflow_provider_tiktok.hooks.http_client.unreadable_reply_error`:
        transient for 429 and 5xx, final for any other).

        :param response: the HTTP response.
        :param body: the decoded body when it is a JSON object, else ``None``.
        """
        raise NotImplementedError

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: JsonObject | None = None,
        data: Mapping[str, str] | None = None,
        auth: RequestAuth | None = None,
        retry: bool = True,
        subject: str | None = None,
    ) -> tuple[JsonObject, requests.Response]:
        """Call the API with timeouts and retries, and return the JSON body and the response.

        Transient failures are retried with exponential backoff and jitter, honouring
        ``Retry-After``, within both ``max_retries`` and ``max_retry_wait``. Any other
        error is raised at once as a :class:`TikTokApiError` subclass.

        :param retry: ``False`` makes one attempt only, for interactive checks such as the
            UI's connection test.
        :param subject: what the call is about (``"username=tiktok"``), named in the retry
            warnings; never a secret.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        return self._retrying(retry=retry, subject=subject)(
            self._send_once, method, url, params=params, json=json, data=data, auth=auth
        )

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json: JsonObject | None,
        data: Mapping[str, str] | None,
        auth: RequestAuth | None,
    ) -> tuple[JsonObject, requests.Response]:
        """One attempt of a call, once the rate limit lets it start."""
        if self._rate_limiter is not None:
            self._rate_limiter.acquire()
        return http_client.send_json(
            self.session,
            method,
            url,
            api_name=self.api_name,
            timeout=self.timeout,
            classify=self._classify_error,
            params=params,
            json=json,
            data=data,
            auth=auth,
            max_reply_bytes=self.max_reply_bytes,
        )

    def _retrying(self, *, retry: bool = True, subject: str | None = None) -> Retrying:
        """The retry policy of every call of this hook, the image downloads included.

        :param subject: what the call is about, for the retry warnings.
        """

        def log_retry(retry_state: RetryCallState) -> None:
            self._log_retry(retry_state, subject)

        return http_client.retrying(
            max_attempts=self.max_retries + 1 if retry else 1,
            max_wait=self.max_retry_wait,
            sleep=self._sleep,
            before_sleep=log_retry,
        )

    def _log_retry(self, retry_state: RetryCallState, subject: str | None = None) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        self.log.warning(
            "%s%s call failed (%s); retry %d of %d in %.1f s",
            f"{subject}: " if subject else "",
            self.api_name,
            error,
            retry_state.attempt_number,
            self.max_retries,
            retry_state.upcoming_sleep,
        )

    def download_image(
        self,
        url: str,
        *,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        allowed_hosts: ImageHostPolicy | Iterable[str] | None = None,
    ) -> DownloadedImage:
        """Download an image, such as a signed avatar URL from a reply, without credentials.

        The URL comes from a reply, so it is untrusted: it is downloaded only from an
        allowed image host, over https, and a redirect is followed only to an allowed
        host; the connection checks the address it connects to (see
        :mod:`~airflow_provider_tiktok.hooks.image_hosts`). The request has the hook's
        timeouts, ``User-Agent`` and retries of transient failures (429, 5xx, timeouts,
        resets), but a session of its own, without any of the API's credentials: neither
        EnsembleData's ``token`` nor the Research API's bearer token reaches the image
        host. The rate limit is the API's, so it does not apply. The body is streamed and
        reading stops as soon as it passes ``max_bytes``. See
        :mod:`~airflow_provider_tiktok.hooks.image_download`.

        :param url: the ``https`` URL of the image.
        :param max_bytes: the largest body accepted, after any content decoding.
        :param allowed_hosts: the allowed image hosts: a policy, or entries that replace
            :data:`~airflow_provider_tiktok.hooks.image_hosts.DEFAULT_AVATAR_HOSTS`
            (TikTok's image domains, the default when ``None``).
        :raises ValueError: for a URL that is not ``http(s)``, a ``max_bytes`` below 1 or a
            malformed host entry, before the connection is read.
        :raises ImageHostRefusedError: for a URL, redirect or address outside the allowed
            hosts, before anything is sent there.
        :raises TikTokApiError: for an error status, a body that is not an image or is too
            large; :class:`TikTokTransientError` once the retries are spent.
        """
        image_download.check_image_request(url, max_bytes)
        policy = (
            allowed_hosts
            if isinstance(allowed_hosts, ImageHostPolicy)
            else ImageHostPolicy.from_entries(allowed_hosts)
        )
        return image_download.download_image(
            self._image_session(policy),
            url,
            policy=policy,
            max_bytes=max_bytes,
            timeout=self.timeout,
            retrying=self._retrying(),
        )

    def _image_session(self, policy: ImageHostPolicy) -> requests.Session:
        """The pooled image session of ``policy``, created on first use, shared by threads."""
        with self._image_sessions_lock:
            found = self._image_sessions.get(policy)
            if found is None:
                found = image_download.image_session(self.pool_size, policy, self._resolver)
                self._image_sessions[policy] = found
            return found
