"""Eight concurrent writers making 500 writes each, through a real server, lose nothing and
never see "database is locked" (SQLite: WAL, busy timeout, BEGIN IMMEDIATE)."""

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from app.models import Claim
from tests.helpers import API, AUTH
from tests.servers import api_server

WRITERS, WRITES = 8, 500


def _writer(base: str, writer: int) -> list[tuple[int, str]]:
    """Makes WRITES claims; returns the failures (status, body)."""
    failures = []
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
        for n in range(WRITES):
            body = {"text": f"writer {writer} claim {n}", "kind": "empirical"}
            response = http.post(f"{API}/claims", json=body)
            if response.status_code != 201:
                failures.append((response.status_code, response.text[:200]))
    return failures


def test_eight_writers_lose_nothing(db_settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    with api_server(db_settings.database_url) as base, ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda w: _writer(base, w), range(WRITERS)))
    failures = [f for result in results for f in result]
    assert failures == [], failures[:5]
    with session_factory() as session:
        texts = set(session.scalars(select(Claim.text)))
        assert session.scalar(select(func.count(Claim.id))) == WRITERS * WRITES
    assert texts == {f"writer {w} claim {n}" for w in range(WRITERS) for n in range(WRITES)}
