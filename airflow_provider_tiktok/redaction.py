"""Keeping credentials out of URLs, log lines and exception texts.

EnsembleData authenticates with a ``token`` query parameter, so the token is part of every
request URL. ``requests`` and ``urllib3`` put URLs into their exception texts and DEBUG log
lines, where Airflow's secrets masker does not always reach. Everything the provider shows
of a URL or of a transport error goes through :func:`redact` first, and
:func:`install_urllib3_log_filter` rewrites urllib3's own request lines.

This module sits at the package root, beside :mod:`~airflow_provider_tiktok.exceptions`,
not under ``hooks/``: every provider error redacts its message when it is built, whoever
raises it, so the exceptions need it without depending on the hooks.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "***"
MIN_SECRET_LENGTH = 5

_SECRET_QUERY_PARAM = re.compile(
    r"(?i)\b(token|access_token|client_secret)=([^&\s'\"#]+)",
)

_known_secrets: set[str] = set()
_known_secrets_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`redact` removes it from any text.

    :param secret: a credential value. Values shorter than :data:`MIN_SECRET_LENGTH` are
        ignored, as Airflow's masker does, since replacing them would garble ordinary words.
    """
    if secret and len(secret) >= MIN_SECRET_LENGTH:
        with _known_secrets_lock:
            _known_secrets.add(secret)


def redact(text: str) -> str:
    """Return ``text`` with every known secret and every secret query parameter replaced.

    :param text: a URL, log message or exception text.
    """
    text = _SECRET_QUERY_PARAM.sub(lambda match: f"{match.group(1)}={REDACTED}", text)
    with _known_secrets_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from a record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.util.retry",
)
"""urllib3's loggers whose messages carry request URLs.

A logger's filters only see records logged on that very logger, not on its children, so
each one gets its own filter.
"""
_filter_installed = False
_filter_lock = threading.Lock()


def install_urllib3_log_filter() -> None:
    """Attach :class:`RedactingFilter` to urllib3's URL-logging loggers, once per process.

    urllib3 logs every request line, query string included, at DEBUG level
    (``urllib3.connectionpool``), and URLs in its header-parsing warnings
    (``urllib3.connection``), redirect lines and retry lines. The hooks' sessions are all
    made by :func:`~airflow_provider_tiktok.hooks.http_client.new_session`, which calls this
    first, so the filter is in place before the provider sends anything.
    """
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            redacting_filter = RedactingFilter()
            for name in _URLLIB3_LOGGERS:
                logging.getLogger(name).addFilter(redacting_filter)
            _filter_installed = True
