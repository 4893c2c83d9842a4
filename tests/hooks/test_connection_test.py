from __future__ import annotations

import pytest

from airflow_provider_tiktok.exceptions import TikTokAuthError
from airflow_provider_tiktok.hooks.connection_test import (
    MAX_MESSAGE_LENGTH,
    connection_test_message,
    for_this_connection,
)

TEMPORARY_ID = "q8ZxT0aLk2"  # Airflow's UI tests a copy of the form under a random id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "check the password of the connection 'q8ZxT0aLk2'",
            "check the password of this connection",
        ),
        ("Connection 'q8ZxT0aLk2' has no token", "This connection has no token"),
        ("bad timeout (connection 'q8ZxT0aLk2')", "bad timeout (this connection)"),
    ],
)
def test_the_connection_id_becomes_this_connection(text: str, expected: str) -> None:
    assert for_this_connection(text, TEMPORARY_ID) == expected


def test_a_long_message_is_shortened_but_keeps_status_code_and_log_id() -> None:
    error = TikTokAuthError("x", http_status=401, api_code="invalid_client", log_id="2026ABC")

    message = connection_test_message("word " * 80, TEMPORARY_ID, error)

    assert len(message) == MAX_MESSAGE_LENGTH
    assert "\n" not in message
    assert message.endswith("… (HTTP 401, code invalid_client, log_id 2026ABC)")


def test_a_short_message_is_one_line_as_given() -> None:
    message = connection_test_message("it\nworks for 'q8ZxT0aLk2'", TEMPORARY_ID)

    assert message == "It works for this connection"
