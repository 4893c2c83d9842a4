"""How the stand-in routes a request: unknown paths, wrong methods."""

from __future__ import annotations

from tests.testing.stand_in_client import StandInClient


def test_unknown_paths_and_wrong_methods(api: StandInClient) -> None:
    assert api.session.get(api.server.base_url + "/nothing", timeout=5).status_code == 404
    assert (
        api.session.get(api.server.base_url + "/v2/research/user/info", timeout=5).status_code
        == 404
    )
    wrong = api.session.get(api.server.research_url + "/v2/oauth/token/", timeout=5)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"
    assert (
        api.session.post(api.server.ensembledata_url + "/tt/user/info", timeout=5).status_code
        == 405
    )
