"""The messages of a connection test, in the words of the connection form.

Airflow shows ``test_connection``'s message in a small box of the UI (and prints it in
``airflow connections test``). So the message names the form's labels ("API token",
"Client key", "Client secret") rather than the fields behind them, says "this connection"
rather than the connection id (the UI tests a copy saved under a temporary random id),
fits in two lines, and still ends with what support asks for: the HTTP status, the API's
code and the Research API's ``log_id``.
"""

from __future__ import annotations

import re

from airflow_provider_tiktok.exceptions import TikTokApiError

MAX_MESSAGE_LENGTH = 160
"""The longest message: two lines of the UI's result box."""

THIS_CONNECTION = "this connection"


def for_this_connection(text: str, conn_id: str) -> str:
    """``text`` with every mention of the connection id replaced by "this connection".

    :param text: a message that may name ``conn_id`` ("the connection 'x'", "Connection 'x'").
    :param conn_id: the id the hook was given.
    """
    quoted = re.escape(repr(conn_id))
    text = re.sub(rf"\b[Tt]he connection {quoted}", THIS_CONNECTION, text)
    text = re.sub(rf"\bconnection {quoted}", THIS_CONNECTION, text)
    text = re.sub(rf"\bConnection {quoted}", THIS_CONNECTION.capitalize(), text)
    return text.replace(repr(conn_id), THIS_CONNECTION)


def connection_test_message(summary: str, conn_id: str, error: BaseException | None = None) -> str:
    """One message of at most :data:`MAX_MESSAGE_LENGTH` characters, on one line.

    :param summary: what happened, in the form's words; shortened with "…" when too long.
    :param conn_id: the tested connection's id, never shown.
    :param error: the error of a failed test, whose HTTP status, API code and ``log_id``
        end the message in full.
    """
    details = error.details() if isinstance(error, TikTokApiError) else ""
    suffix = f" ({details})" if details else ""
    text = " ".join(for_this_connection(summary, conn_id).split())
    text = text[:1].upper() + text[1:]
    room = MAX_MESSAGE_LENGTH - len(suffix)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return text + suffix


def failure_summary(error: BaseException) -> str:
    """What a failed test says when there is nothing more specific: the error's own message.

    :param error: the error the test met.
    """
    return error.message if isinstance(error, TikTokApiError) else str(error)
