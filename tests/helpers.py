"""Small helpers shared by the tests."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.models import Base

API = "/api/v1"
# An admin token that every test database holds (created after each truncation).
TEST_TOKEN_PREFIX = "0badc0de"
TEST_TOKEN_SECRET = "tests-only-secret-not-for-production"
TEST_TOKEN = f"atlas_{TEST_TOKEN_PREFIX}_{TEST_TOKEN_SECRET}"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


def post(client: TestClient, path: str, body: Any, status: int = 201) -> dict[str, Any]:
    response = client.post(f"{API}{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def anonymous(client: TestClient) -> TestClient:
    """The client without its token header (as a browser is)."""
    client.headers.pop("Authorization", None)
    return client


def snapshot(session_factory: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove that a failed request changed nothing."""
    with session_factory() as session:
        return {
            t.name: sorted(
                map(tuple, session.execute(text(f"SELECT * FROM {t.name}")).all()), key=repr
            )
            for t in Base.metadata.sorted_tables
        }


def make_graph(client: TestClient) -> dict[str, int]:
    """One row of each entity, wired together; returns their ids."""
    problem = post(client, "/problems", {"title": "Why do big nets generalize?", "number": 1})
    actor = post(client, "/actors", {"name": "Vitaly Feldman", "problem_ids": [problem["id"]]})
    source = post(
        client,
        "/sources",
        {
            "title": "Does learning require memorization?",
            "authors": ["Vitaly Feldman"],
            "date": "2019-06",
            "arxiv": "1906.05271",
            "doi": "10.1145/3357713.3384290",
        },
    )
    thread = post(client, "/threads", {"title": "Is theory broken?", "found_via": "manual"})
    claim = post(
        client,
        "/claims",
        {
            "text": "Memorization is needed for long tails",
            "kind": "theoretical",
            "problem_id": problem["id"],
        },
    )
    evidence = post(
        client,
        "/evidence",
        {"claim_id": claim["id"], "source_id": source["id"], "relation": "supports"},
    )
    perspective = post(
        client,
        "/perspectives",
        {
            "label": "Feldman",
            "stance": "Memorization is necessary.",
            "thread_id": thread["id"],
            "actor_id": actor["id"],
            "source_ids": [source["id"]],
            "claim_ids": [claim["id"]],
            "evolution": [{"version": 6, "kind": "consistent"}],
        },
    )
    tension = post(
        client,
        "/tensions",
        {
            "title": "Memorization",
            "question": "Necessary or harmful?",
            "thread_id": thread["id"],
            "problem_id": problem["id"],
            "source_ids": [source["id"]],
            "sides": [
                {
                    "label": "necessary",
                    "claim_ids": [claim["id"]],
                    "perspective_ids": [perspective["id"]],
                    "source_ids": [source["id"]],
                }
            ],
        },
    )
    event = post(
        client,
        "/events",
        {
            "date": "2019-06",
            "text": "Feldman's long-tail paper",
            "thread_id": thread["id"],
            "source_ids": [source["id"]],
        },
    )
    edge = post(
        client,
        "/edges",
        {
            "from_type": "source",
            "from_id": source["id"],
            "relation": "addresses",
            "to_type": "problem",
            "to_id": problem["id"],
        },
    )
    return {
        "problem": problem["id"],
        "actor": actor["id"],
        "source": source["id"],
        "work": source["work_id"],
        "thread": thread["id"],
        "claim": claim["id"],
        "evidence": evidence["id"],
        "perspective": perspective["id"],
        "tension": tension["id"],
        "event": event["id"],
        "edge": edge["id"],
    }
