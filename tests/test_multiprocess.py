"""A write through one server process shows up in another process's graph."""

import httpx

from tests.helpers import AUTH
from tests.servers import api_server


def test_second_process_write_reaches_first_process_graph(db_settings, session_factory):  # type: ignore[no-untyped-def]
    url = db_settings.database_url
    with api_server(url) as first, api_server(url) as second:
        problem = httpx.post(
            f"{second}/api/v1/problems", json={"title": "Shared"}, headers=AUTH
        ).json()
        # The first process builds its graph now, before the write below.
        stats = httpx.get(f"{first}/api/v1/graph/stats").json()
        claim = httpx.post(
            f"{second}/api/v1/claims",
            json={"text": "Written elsewhere", "kind": "empirical", "problem_id": problem["id"]},
            headers=AUTH,
        ).json()
        hood = httpx.get(f"{first}/api/v1/graph/nodes/problem:{problem['id']}/neighbourhood").json()
        assert f"claim:{claim['id']}" in {n["id"] for n in hood["nodes"]}
        after = httpx.get(f"{first}/api/v1/graph/stats").json()
        assert after["nodes"] == stats["nodes"] + 1 and after["edges"] == stats["edges"] + 1
        httpx.delete(f"{second}/api/v1/claims/{claim['id']}", headers=AUTH)
        gone = httpx.get(f"{first}/api/v1/graph/nodes/claim:{claim['id']}/neighbourhood")
        assert gone.status_code == 404
