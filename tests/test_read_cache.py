"""The read cache (app/core/read_cache.py): repeated reads come from memory, and any commit,
through the API or not, makes the next read fresh."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.core.read_cache import Entry, ReadCache, accepts_gzip
from app.main import create_app
from app.models import Source
from app.models.source import SourcePublic
from app.services.crud import get_row
from app.services.source_reader import source_json
from tests.helpers import API, AUTH, post


def _get(client: TestClient, path: str, **kwargs: Any) -> tuple[dict[str, Any], bool]:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    return response.json(), response.headers.get("x-cache") == "hit"


def test_a_repeated_read_is_a_hit_until_a_write_through_the_api(client: TestClient) -> None:
    source = post(client, "/sources", {"title": "Cached paper", "year": 2020})
    one = f"{API}/sources/{source['id']}"
    path = f"{API}/sources"  # a list: GET by id takes the direct path on SQLite
    version = client.app.state.data_version.current  # type: ignore[attr-defined]
    before = version()
    first, hit = _get(client, path)
    assert not hit and first["items"][0]["title"] == "Cached paper"
    again, hit = _get(client, path)
    # On PostgreSQL the version is the cluster's snapshot: another database's writes (a
    # parallel test) may change it, and then a miss is right. On SQLite it cannot change.
    assert (hit or version() != before) and again == first
    if client.app.state.engine.dialect.name == "sqlite":  # type: ignore[attr-defined]
        assert hit
    _, hit = _get(client, path, params={"kind": "paper"})
    assert not hit  # the query is part of the key

    client.patch(one, json={"title": "Renamed paper"}).raise_for_status()
    fresh, hit = _get(client, path)
    assert not hit and [s["title"] for s in fresh["items"]] == ["Renamed paper"]
    assert _get(client, one)[0]["title"] == "Renamed paper"


def test_a_commit_from_another_connection_invalidates(client: TestClient, session_factory) -> None:
    source = post(client, "/sources", {"title": "Before", "year": 2021})
    path = f"{API}/sources"
    _get(client, path)
    cached = _get(client, path)[1]
    if client.app.state.engine.dialect.name == "sqlite":  # type: ignore[attr-defined]
        assert cached, "the read before the update came from the cache"
    with session_factory() as session, session.begin():  # not through the app
        session.execute(update(Source).where(Source.id == source["id"]).values(title="After"))
    body, hit = _get(client, path)
    assert not hit and body["items"][0]["title"] == "After"
    assert _get(client, f"{API}/sources/{source['id']}")[0]["title"] == "After"


def test_errors_runs_and_token_guarded_reads_are_not_cached(client: TestClient) -> None:
    for _ in range(2):
        assert client.get(f"{API}/sources/999").status_code == 404
    assert "x-cache" not in client.get(f"{API}/sources/999").headers
    for _ in range(2):
        runs = client.get(f"{API}/runs")
    assert runs.status_code == 200 and "x-cache" not in runs.headers

    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"read_requires_token": True}
    )
    for _ in range(2):
        guarded = client.get(f"{API}/sources")
    assert guarded.status_code == 200 and "x-cache" not in guarded.headers
    anonymous = client.get(f"{API}/sources", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    # Nor does the direct SQLite path (app/core/fast_read.py) answer without the token.
    source = post(client, "/sources", {"title": "Guarded", "year": 2022})
    one = client.get(f"{API}/sources/{source['id']}", headers={"Authorization": ""})
    assert one.status_code == 401
    assert client.get(f"{API}/sources/{source['id']}").json()["title"] == "Guarded"


def test_hits_are_gzip_for_clients_that_accept_it_and_plain_for_others(
    client: TestClient,
) -> None:
    for n in range(30):  # a list long enough that compression shows
        post(client, "/sources", {"title": f"Compressible paper number {n}", "year": 2020})
    path = f"{API}/sources?limit=30"
    plain = {"Accept-Encoding": "identity"}
    first = client.get(path, headers=plain)
    assert first.headers.get("x-cache") is None and "content-encoding" not in first.headers
    assert first.headers["vary"] == "accept-encoding"
    if client.app.state.engine.dialect.name != "sqlite":  # type: ignore[attr-defined]
        return  # another database's commit may change PostgreSQL's snapshot: no sure hit
    zipped = client.get(path, headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert zipped.headers["x-cache"] == "hit" and zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(first.content) / 3
    assert zipped.content == first.content  # httpx decoded it: the same bytes as computed
    again = client.get(path, headers=plain)
    assert again.headers["x-cache"] == "hit" and "content-encoding" not in again.headers
    assert again.headers.get_list("vary") == ["accept-encoding"]
    assert again.content == first.content
    assert int(again.headers["content-length"]) == len(first.content)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("deflate, gzip;q=1.0", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("br", False),
        ("", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header: str, accepted: bool) -> None:
    assert accepts_gzip({"headers": [(b"accept-encoding", header.encode())]}) is accepted


def test_a_zero_budget_turns_the_cache_off(db_settings, session_factory) -> None:
    app = create_app(db_settings.model_copy(update={"read_cache_mb": 0}))
    with TestClient(app, headers=AUTH) as c:
        for _ in range(3):
            response = c.get(f"{API}/sources")
        assert response.status_code == 200 and "x-cache" not in response.headers


def test_the_least_recently_used_answers_go_first() -> None:
    cache = ReadCache(app=None, version=None, max_bytes=100)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        cache._store((name, b""), Entry(1, [], b"x" * 40))
    assert list(cache.entries) == [("b", b""), ("c", b"")] and cache.size == 80
    cache.entries.move_to_end(("b", b""))  # b was read again
    cache._store(("d", b""), Entry(1, [], b"x" * 40))
    assert list(cache.entries) == [("b", b""), ("d", b"")] and cache.size == 80


def test_the_direct_sqlite_path_answers_as_the_orm_path(
    seeded: TestClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """GET /sources/{id} on SQLite reads through app/core/fast_read.py; every seeded source
    (and one with tags, dates of each precision) must come out exactly as the ORM gives it."""
    from app.api.crud import json_answer
    from app.services.sources import SOURCES

    post(seeded, "/sources", {"title": "Tagged", "date": "2019-07", "tags": ["b", "a"]})
    with session_factory() as session:
        ids = [row.id for row in session.scalars(select(Source))]
        expected = {
            i: json.loads(
                json_answer(
                    SourcePublic, SOURCES.publish_one(session, get_row(session, SOURCES, i))
                ).body
            )
            for i in ids
        }
    assert len(ids) > 50
    direct = seeded.app.state.sqlite_reader is not None  # type: ignore[attr-defined]
    assert direct == (seeded.app.state.engine.dialect.name == "sqlite")  # type: ignore[attr-defined]
    for i in ids:
        response = seeded.get(f"{API}/sources/{i}")
        assert response.status_code == 200 and response.json() == expected[i], i
        if direct:
            body = source_json(seeded.app.state.sqlite_reader, i)  # type: ignore[attr-defined]
            assert body is not None and json.loads(body) == expected[i], i
    assert expected[ids[-1]]["tags"] == ["a", "b"] and expected[ids[-1]]["date"] == "2019-07"
    assert seeded.get(f"{API}/sources/{max(ids) + 1}").status_code == 404


def test_sqlite_is_given_planner_statistics_once_it_holds_data(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps its own statistics (autovacuum)")
    from app.core.db import plan_with_statistics

    def tables() -> set[str]:
        with engine.connect() as conn:
            names = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
            if "sqlite_stat1" not in names:
                return set()
            return set(conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars().all())

    with engine.connect() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        conn.commit()
    plan_with_statistics(engine)
    assert tables() == set(), "an empty database gets no statistics"
    post(client, "/sources", [{"title": f"Paper {i}", "year": 2000 + i % 20} for i in range(3)])
    plan_with_statistics(engine, min_sources=3)
    analysed = tables()
    assert "sources" in analysed and not any(t.startswith("search_index") for t in analysed)
    with engine.connect() as conn:  # the session's database is shared with later tests
        conn.exec_driver_sql("DROP TABLE sqlite_stat1")
        conn.commit()


def test_sync_handlers_share_the_configured_number_of_threads(db_settings) -> None:
    import anyio.to_thread

    app = create_app(db_settings.model_copy(update={"sync_threads": 3}))
    with TestClient(app, headers=AUTH) as c:
        assert c.get(f"{API}/sources").status_code == 200
        limiter = c.portal.call(anyio.to_thread.current_default_thread_limiter)  # type: ignore[union-attr]
        assert limiter.total_tokens == 3
