"""Inputs that once reached the database or the parser unchecked: each is a clean 4xx."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.helpers import API, AUTH, make_graph, post, snapshot

HUGE = [2**31, 2**63, 10**20]


@pytest.fixture
def graph(client):  # type: ignore[no-untyped-def]
    return make_graph(client)


@pytest.mark.parametrize("value", HUGE)
def test_huge_ids_in_paths_are_404(client, graph, value):  # type: ignore[no-untyped-def]
    for path in (f"/problems/{value}", f"/sources/{value}", f"/threads/1/items/{value}"):
        method = client.delete if "items" in path else client.get
        response = method(f"{API}{path}")
        assert response.status_code in (404, 422), (path, response.text)


@pytest.mark.parametrize("value", HUGE)
def test_huge_ids_in_filters_and_bodies_are_422(client, graph, session_factory, value):  # type: ignore[no-untyped-def]
    for params in ({"problem_id": value}, {"offset": value}, {"work_id": value}):
        path = "/sources" if "work_id" in params else "/claims"
        response = client.get(f"{API}{path}", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == f"query.{next(iter(params))}"
    before = snapshot(session_factory)
    for path, body, field in (
        ("/sources", {"title": "t", "work_id": value}, "work_id"),
        ("/evidence", {"claim_id": value, "source_id": 1, "relation": "supports"}, "claim_id"),
        (
            "/edges",
            {
                "from_type": "claim",
                "from_id": value,
                "relation": "about",
                "to_type": "problem",
                "to_id": 1,
            },
            "from_id",
        ),
        ("/perspectives", {"label": "l", "stance": "s", "source_ids": [1, value]}, "source_ids.1"),
    ):
        response = client.post(f"{API}{path}", json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field
    assert snapshot(session_factory) == before


@pytest.mark.parametrize("ref", ["%C2%B2", "%D9%A1", "%EF%BC%91"])
def test_non_ascii_digits_are_not_ids(client, graph, ref):  # type: ignore[no-untyped-def]
    response = client.get(f"{API}/sources/{ref}")
    assert response.status_code == 404


def test_malformed_identifier_filters(client, graph):  # type: ignore[no-untyped-def]
    for name in ("doi", "arxiv"):
        response = client.get(f"{API}/sources", params={name: "garbage"})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == f"query.{name}"


def test_oversized_identifiers(client, graph, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    for body, field in (
        ({"title": "t", "doi": "10.1234/" + "a" * 400}, "doi"),
        ({"title": "t", "arxiv": "1902.04742v99999999999999999999"}, "arxiv"),
        ({"title": "t", "arxiv": "1902.04742v2147483648"}, "arxiv"),
    ):
        response = client.post(f"{API}/sources", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    response = client.post(f"{API}/actors", json={"name": "n" * 501})
    assert response.status_code == 422
    assert snapshot(session_factory) == before


def test_null_required_date(client, graph, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    response = client.post(f"{API}/events", json={"text": "x", "date": None})
    assert response.status_code == 422 and response.json()["error"]["field"] == "date"
    assert snapshot(session_factory) == before


def test_nul_characters(client, graph, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    response = client.post(f"{API}/problems", json={"title": "a\u0000b"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "body"
    assert client.get(f"{API}/problems", params={"q": "\u0000"}).status_code == 422
    assert client.get(f"{API}/problems/%00").status_code == 422
    assert snapshot(session_factory) == before


def test_oversized_body_is_413(db_settings, session_factory):  # type: ignore[no-untyped-def]
    from app.main import create_app

    app = create_app(db_settings.model_copy(update={"max_body_bytes": 1000}))
    with TestClient(app, headers=AUTH) as small:
        response = small.post(f"{API}/problems", json={"title": "x" * 2000})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert small.post(f"{API}/problems", json={"title": "fits"}).status_code == 201


def test_patch_null_collection_is_422(client, graph, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    for path, field in (
        (f"/problems/{graph['problem']}", "facets"),
        (f"/problems/{graph['problem']}", "actor_ids"),
        (f"/perspectives/{graph['perspective']}", "evolution"),
        (f"/tensions/{graph['tension']}", "sides"),
        (f"/events/{graph['event']}", "source_ids"),
    ):
        response = client.patch(f"{API}{path}", json={field: None})
        assert response.status_code == 422, (path, field, response.text)
        assert response.json()["error"]["field"] == field
    assert snapshot(session_factory) == before
    cleared = client.patch(f"{API}/events/{graph['event']}", json={"source_ids": []})
    assert cleared.json()["source_ids"] == []


def test_patch_leaves_unsent_fields_alone(client, graph):  # type: ignore[no-untyped-def]
    before = client.get(f"{API}/sources/{graph['source']}").json()
    after = client.patch(f"{API}/sources/{graph['source']}", json={"venue": "STOC"}).json()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"venue", "updated_at"}


def test_slugs(client, graph, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    response = client.post(f"{API}/problems", json={"title": "x", "slug": "2019"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "slug"
    assert snapshot(session_factory) == before
    derived = post(client, "/problems", {"title": "1234"})
    assert derived["slug"] == "n-1234"
    assert client.get(f"{API}/problems/n-1234").json()["id"] == derived["id"]
    work = post(client, "/works", {"title": "w", "slug": "my-work"})
    assert work["slug"] == "my-work"
    assert client.get(f"{API}/works/my-work").json()["id"] == work["id"]


def test_like_wildcards_are_literal(client, graph):  # type: ignore[no-untyped-def]
    post(client, "/problems", {"title": "100% sure"})
    assert client.get(f"{API}/problems", params={"q": "%"}).json()["total"] == 1
    assert client.get(f"{API}/problems", params={"q": "_"}).json()["total"] == 0


def test_bad_sort_forms(client, graph):  # type: ignore[no-untyped-def]
    for sort in ("--date", "-", "date,", "date;drop"):
        response = client.get(f"{API}/sources", params={"sort": sort})
        assert response.status_code == 422, sort
    ok = client.get(f"{API}/sources", params={"sort": "-date,title"})
    assert ok.status_code == 200


def test_repeated_tags_all_apply(client, graph):  # type: ignore[no-untyped-def]
    post(client, "/sources", {"title": "a", "tags": ["x", "y"]})
    post(client, "/sources", {"title": "b", "tags": ["x"]})
    both = client.get(f"{API}/sources", params=[("tag", "x"), ("tag", "y")]).json()
    assert [s["title"] for s in both["items"]] == ["a"]


def test_duplicate_evidence_is_409_with_existing_id(client, graph):  # type: ignore[no-untyped-def]
    body = {"claim_id": graph["claim"], "source_id": graph["source"], "relation": "supports"}
    response = client.post(f"{API}/evidence", json=body)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate" and error["details"]["existing_id"] == graph["evidence"]
    other = post(client, "/evidence", {**body, "relation": "refines"})
    clash = client.patch(f"{API}/evidence/{other['id']}", json={"relation": "supports"})
    assert clash.status_code == 409
    assert clash.json()["error"]["details"]["existing_id"] == graph["evidence"]


def test_dependents_are_counted_in_full(client, graph):  # type: ignore[no-untyped-def]
    for i in range(60):
        post(
            client,
            "/edges",
            {
                "from_type": "claim",
                "from_id": graph["claim"],
                "relation": "about",
                "to_type": "problem",
                "to_id": post(client, "/problems", {"title": f"p{i}"})["id"],
            },
        )
    error = client.delete(f"{API}/claims/{graph['claim']}").json()["error"]
    edges = next(d for d in error["details"]["dependents"] if d["table"] == "edges")
    assert edges["count"] == 60 and len(edges["ids"]) == 50 and edges["complete"] is False
    assert "60 in edges" in error["message"]


def test_work_lifecycle(client, graph):  # type: ignore[no-untyped-def]
    lone = post(client, "/sources", {"title": "lone"})
    post(
        client,
        "/edges",
        {
            "from_type": "work",
            "from_id": lone["work_id"],
            "relation": "about",
            "to_type": "problem",
            "to_id": graph["problem"],
        },
    )
    moved = client.patch(f"{API}/sources/{lone['id']}", json={"work_id": graph["work"]})
    assert moved.status_code == 200
    # The empty work stays because an edge still names it.
    assert client.get(f"{API}/works/{lone['work_id']}").status_code == 200
    single = post(client, "/sources", {"title": "single"})
    assert client.delete(f"{API}/sources/{single['id']}").status_code == 204
    assert client.get(f"{API}/works/{single['work_id']}").status_code == 404


def test_concurrent_writers_get_proper_answers(client, graph):  # type: ignore[no-untyped-def]
    def create(i: int) -> tuple[int, dict]:
        r = client.post(f"{API}/problems", json={"title": "same title"})
        return r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(16)))
    assert [code for code, _ in results] == [201] * 16
    assert len({body["slug"] for _, body in results}) == 16

    def duplicate(i: int) -> tuple[int, dict]:
        r = client.post(f"{API}/sources", json={"title": f"copy {i}", "doi": "10.5555/race"})
        return r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(duplicate, range(12)))
    created = [body for code, body in results if code == 201]
    refused = [body for code, body in results if code == 409]
    assert len(created) == 1 and len(refused) == 11
    for body in refused:
        assert body["error"]["field"] == "doi"
        assert body["error"]["details"]["existing_id"] == created[0]["id"]
