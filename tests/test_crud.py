"""CRUD, validation and pagination for every entity."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import API, make_graph, post, snapshot


@dataclass
class Spec:
    path: str
    create: Callable[[dict[str, int]], dict[str, Any]]
    update: dict[str, Any]
    required: str  # a field whose absence must be a 422
    wrong_type: tuple[str, Any]  # (field, value of the wrong type)
    bad_enum: tuple[str, str] | None = None
    slug: bool = True


SPECS = {
    "problems": Spec(
        "/problems",
        lambda g: {
            "title": "Are emergent abilities real?",
            "number": 5,
            "facets": {
                "known": ["Jumps appear under exact match."],
                "unknown": [{"text": "Whether any jump is genuine.", "claim_ids": [g["claim"]]}],
            },
            "actor_ids": [g["actor"]],
        },
        {"summary": "Updated summary"},
        "title",
        ("number", "five"),
    ),
    "sources": Spec(
        "/sources",
        lambda g: {
            "title": "Are emergent abilities a mirage?",
            "kind": "paper",
            "authors": ["Schaeffer, Rylan"],
            "year": 2023,
            "venue": "NeurIPS 2023",
            "tags": ["emergence"],
        },
        {"venue": "NeurIPS 2023 (oral)", "change_reason": "corrected"},
        "title",
        ("authors", "Rylan Schaeffer"),
        ("kind", "tweet"),
        slug=False,
    ),
    "works": Spec(
        "/works",
        lambda g: {"title": "A work"},
        {"note": "checked"},
        "title",
        ("title", 12),
        slug=False,
    ),
    "actors": Spec(
        "/actors",
        lambda g: {"name": "Rylan Schaeffer", "kind": "person", "problem_ids": [g["problem"]]},
        {"affiliation": "Stanford"},
        "name",
        ("problem_ids", "one"),
        ("kind", "robot"),
    ),
    "claims": Spec(
        "/claims",
        lambda g: {
            "text": "Emergence is a metric artefact",
            "kind": "position",
            "problem_id": g["problem"],
            "scope": {"scale": "LLMs"},
        },
        {"status": "contested", "status_reason": "New results"},
        "text",
        ("scope", "everything"),
        ("status", "maybe"),
    ),
    "evidence": Spec(
        "/evidence",
        lambda g: {"claim_id": g["claim"], "source_id": g["source"], "relation": "contests"},
        {"note": "on a second reading"},
        "relation",
        ("claim_id", "abc"),
        ("relation", "likes"),
        slug=False,
    ),
    "perspectives": Spec(
        "/perspectives",
        lambda g: {
            "label": "Sceptic",
            "stance": "Not necessary.",
            "thread_id": g["thread"],
            "source_ids": [g["source"]],
            "evolution": [{"version": 6, "kind": "new"}],
        },
        {"stance": "Harmful, even."},
        "stance",
        ("evolution", {"version": 6}),
    ),
    "tensions": Spec(
        "/tensions",
        lambda g: {
            "title": "Emergence",
            "question": "Real or mirage?",
            "thread_id": g["thread"],
            "sides": [{"label": "real"}, {"label": "mirage", "claim_ids": [g["claim"]]}],
        },
        {"question": "Real, mirage, or both?"},
        "question",
        ("sides", "two"),
        ("status", "closed"),
    ),
    "events": Spec(
        "/events",
        lambda g: {
            "date": "2023",
            "text": "Mirage paper",
            "thread_id": g["thread"],
            "source_ids": [g["source"]],
        },
        {"date": "2023-12-10"},
        "text",
        ("source_ids", "x"),
    ),
    "threads": Spec(
        "/threads",
        lambda g: {"title": "Emergence thread"},
        {"summary": "s"},
        "title",
        ("title", ["a"]),
    ),
    "edges": Spec(
        "/edges",
        lambda g: {
            "from_type": "claim",
            "from_id": g["claim"],
            "relation": "about",
            "to_type": "problem",
            "to_id": g["problem"],
        },
        {"note": "checked"},
        "relation",
        ("from_id", "one"),
        ("relation", "loves"),
        slug=False,
    ),
}

ENTITIES = sorted(SPECS)


@pytest.fixture
def graph(client):  # type: ignore[no-untyped-def]
    return make_graph(client)


@pytest.mark.parametrize("name", ENTITIES)
def test_create_read_update_delete(client, graph, name):  # type: ignore[no-untyped-def]
    spec = SPECS[name]
    created = post(client, spec.path, spec.create(graph))
    row_id = created["id"]
    assert created["created_at"] and created["updated_at"]

    fetched = client.get(f"{API}{spec.path}/{row_id}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    if spec.slug:
        by_slug = client.get(f"{API}{spec.path}/{created['slug']}")
        assert by_slug.status_code == 200 and by_slug.json()["id"] == row_id

    updated = client.patch(f"{API}{spec.path}/{row_id}", json=spec.update)
    assert updated.status_code == 200, updated.text
    for field, value in spec.update.items():
        if field in updated.json():
            shown = updated.json()[field]
            assert shown == value or (field == "date" and shown == "2023-12-10"), (field, shown)

    listed = client.get(f"{API}{spec.path}", params={"limit": 500}).json()
    assert row_id in [item["id"] for item in listed["items"]]

    deleted = client.delete(f"{API}{spec.path}/{row_id}")
    if name == "actors":
        # The new actor works on a problem: that link is a dependent.
        assert deleted.status_code == 409
        deleted = client.delete(f"{API}{spec.path}/{row_id}", params={"cascade": True})
    assert deleted.status_code == 204
    assert client.get(f"{API}{spec.path}/{row_id}").status_code == 404


@pytest.mark.parametrize("name", ENTITIES)
def test_unknown_id_is_404(client, name):  # type: ignore[no-untyped-def]
    path = SPECS[name].path
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {}} if method == "patch" else {}
        response = getattr(client, method)(f"{API}{path}/987654", **kwargs)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ENTITIES)
def test_missing_required_field_is_422_and_writes_nothing(client, graph, session_factory, name):  # type: ignore[no-untyped-def]
    spec = SPECS[name]
    body = spec.create(graph)
    body.pop(spec.required)
    before = snapshot(session_factory)
    response = client.post(f"{API}{spec.path}", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"].endswith(spec.required), error
    assert snapshot(session_factory) == before


@pytest.mark.parametrize("name", ENTITIES)
def test_wrong_type_is_422_naming_the_field(client, graph, session_factory, name):  # type: ignore[no-untyped-def]
    spec = SPECS[name]
    field, value = spec.wrong_type
    before = snapshot(session_factory)
    response = client.post(f"{API}{spec.path}", json={**spec.create(graph), field: value})
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["field"]
    assert snapshot(session_factory) == before


@pytest.mark.parametrize("name", [n for n in ENTITIES if SPECS[n].bad_enum])
def test_unknown_enum_value_is_422(client, graph, session_factory, name):  # type: ignore[no-untyped-def]
    spec = SPECS[name]
    field, value = spec.bad_enum  # type: ignore[misc]
    before = snapshot(session_factory)
    response = client.post(f"{API}{spec.path}", json={**spec.create(graph), field: value})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert snapshot(session_factory) == before


@pytest.mark.parametrize("name", ENTITIES)
def test_pagination(client, graph, name):  # type: ignore[no-untyped-def]
    spec = SPECS[name]
    if name in ("evidence", "edges"):
        # These are unique per endpoints; make distinct rows by pointing at new claims.
        for i in range(4):
            claim = post(client, "/claims", {"text": f"claim {i}", "kind": "empirical"})
            body = spec.create(graph)
            key = "claim_id" if name == "evidence" else "from_id"
            post(client, spec.path, {**body, key: claim["id"]})
    else:
        for _ in range(4):
            post(
                client,
                spec.path,
                spec.create(graph) | ({"number": None} if name == "problems" else {}),
            )
    total = client.get(f"{API}{spec.path}").json()["total"]
    assert total >= 4
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(f"{API}{spec.path}", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == total and page["limit"] == 2
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == total == len(set(seen))
    descending = client.get(f"{API}{spec.path}", params={"sort": "-id", "limit": 500}).json()
    ids = [item["id"] for item in descending["items"]]
    assert ids == sorted(ids, reverse=True)
    bad_sort = client.get(f"{API}{spec.path}", params={"sort": "nonsense"})
    assert bad_sort.status_code == 422 and bad_sort.json()["error"]["field"] == "query.sort"
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert client.get(f"{API}{spec.path}", params=params).status_code == 422
