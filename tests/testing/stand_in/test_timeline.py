from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from airflow_provider_tiktok.testing import MISSING_USER, PRIVATE_USER, StandInServer
from airflow_provider_tiktok.testing.stand_in.timeline import OutcomeTimeline

DAY_1 = dt.date(2026, 11, 1)
DAY_5 = dt.date(2026, 11, 5)
DAY_9 = dt.date(2026, 11, 9)


def test_outcomes_change_on_their_dates_and_reserved_names_keep_theirs() -> None:
    timeline = OutcomeTimeline(DAY_1)
    timeline.schedule("Bob", DAY_5, PRIVATE_USER)
    timeline.schedule("bob", DAY_9, MISSING_USER)

    assert timeline.outcome_for("bob") is None
    timeline.move_to(DAY_5)
    private = timeline.outcome_for("BOB")
    assert private is not None and "private" in private.research_message
    timeline.move_to(DAY_9)
    missing = timeline.outcome_for("bob")
    assert missing is not None and "cannot find" in missing.research_message
    assert timeline.outcome_for(PRIVATE_USER) is not None
    assert timeline.outcome_for("alice") is None


def test_a_user_can_be_found_again() -> None:
    timeline = OutcomeTimeline(DAY_9)
    timeline.schedule("bob", DAY_1, PRIVATE_USER)
    timeline.schedule("bob", DAY_5, None)

    assert timeline.outcome_for("bob") is None


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome must be None or one of"):
        OutcomeTimeline().schedule("bob", DAY_1, "nobody")


def _query(server: StandInServer, token: str, username: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"{server.research_url}/v2/research/user/info/?fields=display_name",
        data=json.dumps({"username": username}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_server_answers_by_its_simulated_date_and_a_new_day_resets_the_quota() -> None:
    with StandInServer() as server:
        form = f"client_key={server.client_key}&client_secret={server.client_secret}"
        request = urllib.request.Request(
            server.research_url + "/v2/oauth/token/",
            data=(form + "&grant_type=client_credentials").encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request) as reply:
            token = json.loads(reply.read())["access_token"]
        server.move_clock(DAY_1)
        server.schedule_outcome("bob", DAY_5, PRIVATE_USER)

        assert _query(server, token, "bob")[0] == 200
        assert server.research_requests_used == 1
        server.move_clock(DAY_5)
        status, body = _query(server, token, "bob")

        assert status == 400
        assert "private" in str(body["error"])
        assert server.research_requests_used == 1  # the new day started from zero
        assert server.timeline.today == DAY_5
