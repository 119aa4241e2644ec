"""Each kind of bad input gets a 4xx naming the field, and leaves the database unchanged."""

import pytest

from tests.helpers import API, make_graph, post, snapshot


@pytest.fixture
def graph(client):  # type: ignore[no-untyped-def]
    return make_graph(client)


def _assert_unchanged(client, session_factory, method, path, status, field=None, **kwargs):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    response = getattr(client, method)(f"{API}{path}", **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert error.get("field") == field, error
    assert snapshot(session_factory) == before
    return error


def test_malformed_json(client, graph, session_factory):  # type: ignore[no-untyped-def]
    for body in (b"{not json", b'{"title": "x",}', b"[1, 2"):
        _assert_unchanged(
            client,
            session_factory,
            "post",
            "/problems",
            400,
            field="body",
            content=body,
            headers={"content-type": "application/json"},
        )
    # No body at all: the body is a missing required field.
    _assert_unchanged(
        client,
        session_factory,
        "post",
        "/problems",
        422,
        field="body",
        content=b"",
        headers={"content-type": "application/json"},
    )


def test_body_of_wrong_shape(client, graph, session_factory):  # type: ignore[no-untyped-def]
    _assert_unchanged(client, session_factory, "post", "/claims", 422, json=["a", "list"])
    _assert_unchanged(client, session_factory, "post", "/claims", 422, json="text")


def test_unknown_field_is_rejected(client, graph, session_factory):  # type: ignore[no-untyped-def]
    _assert_unchanged(
        client,
        session_factory,
        "post",
        "/threads",
        422,
        field="colour",
        json={"title": "x", "colour": "red"},
    )


@pytest.mark.parametrize("year", [1200, 2500, -5, 0])
def test_out_of_range_year(client, graph, session_factory, year):  # type: ignore[no-untyped-def]
    _assert_unchanged(
        client,
        session_factory,
        "post",
        "/sources",
        422,
        field="year",
        json={"title": "x", "year": year},
    )
    error = _assert_unchanged(
        client,
        session_factory,
        "post",
        "/sources",
        422,
        json={"title": "x", "date": f"{abs(year):04d}-01"},
    )
    assert error["field"] == "date"


@pytest.mark.parametrize("value", ["2019-13", "2019-02-30", "June 2019", "19", True])
def test_malformed_dates(client, graph, session_factory, value):  # type: ignore[no-untyped-def]
    _assert_unchanged(
        client,
        session_factory,
        "post",
        "/events",
        422,
        field="date",
        json={"text": "x", "date": value},
    )


def test_unknown_enum_values_in_queries(client, graph):  # type: ignore[no-untyped-def]
    for path, param in (
        ("/claims", "status"),
        ("/sources", "kind"),
        ("/tensions", "status"),
        ("/edges", "relation"),
        ("/events", "precision"),
    ):
        response = client.get(f"{API}{path}", params={param: "bogus"})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == f"query.{param}"


def test_reference_to_missing_row_is_422(client, graph, session_factory):  # type: ignore[no-untyped-def]
    g = graph
    cases = [
        ("/claims", {"text": "x", "kind": "empirical", "problem_id": 999}, "problem_id"),
        (
            "/evidence",
            {"claim_id": g["claim"], "source_id": 999, "relation": "supports"},
            "source_id",
        ),
        (
            "/perspectives",
            {"label": "x", "stance": "y", "source_ids": [g["source"], 999]},
            "source_ids.1",
        ),
        (
            "/tensions",
            {"title": "x", "question": "y", "sides": [{"label": "a", "claim_ids": [999]}]},
            "sides.0.claim_ids.0",
        ),
        (
            "/problems",
            {"title": "x", "facets": {"known": [{"text": "t", "claim_ids": [999]}]}},
            "facets.known.0.claim_ids.0",
        ),
        (
            "/edges",
            {
                "from_type": "tension",
                "from_id": 999,
                "relation": "about",
                "to_type": "problem",
                "to_id": g["problem"],
            },
            "from_id",
        ),
        ("/sources", {"title": "x", "work_id": 999}, "work_id"),
    ]
    for path, body, field in cases:
        error = _assert_unchanged(client, session_factory, "post", path, 422, json=body)
        assert error["field"] == field, (path, error)
        assert "999" in error["message"]


def test_duplicate_doi_is_409_with_existing_id(client, graph, session_factory):  # type: ignore[no-untyped-def]
    error = _assert_unchanged(
        client,
        session_factory,
        "post",
        "/sources",
        409,
        field="doi",
        json={"title": "Another title", "doi": "https://doi.org/10.1145/3357713.3384290"},
    )
    assert error["details"]["existing_id"] == graph["source"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"arxiv": "arXiv:1906.05271"}, "arxiv"),
        ({"url": "https://example.org/a"}, "url"),
        ({"openreview_id": "https://openreview.net/forum?id=abcDEF123"}, "openreview_id"),
        ({"citekey": "feldman2020"}, "citekey"),
    ],
)
def test_duplicate_identifiers(client, graph, session_factory, body, field):  # type: ignore[no-untyped-def]
    first = post(client, "/sources", {"title": "first", **body}) if field != "arxiv" else None
    existing = first["id"] if first else graph["source"]
    error = _assert_unchanged(
        client,
        session_factory,
        "post",
        "/sources",
        409,
        field=field,
        json={"title": "second", **body},
    )
    assert error["details"]["existing_id"] == existing


def test_arxiv_versions_are_distinct_sources(client, graph):  # type: ignore[no-untyped-def]
    v2 = post(client, "/sources", {"title": "same paper", "arxiv": "1906.05271v2"})
    assert v2["arxiv_id"] == "1906.05271" and v2["arxiv_version"] == 2
    response = client.post(f"{API}/sources", json={"title": "again", "arxiv": "1906.05271v2"})
    assert response.status_code == 409
    assert response.json()["error"]["details"]["existing_id"] == v2["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("doi", "11.1234/abc"),
        ("doi", "not a doi"),
        ("arxiv", "1913.12345"),
        ("arxiv", "abc"),
        ("url", "ftp://example.org"),
        ("openreview_id", "a b"),
    ],
)
def test_malformed_identifiers(client, graph, session_factory, field, value):  # type: ignore[no-untyped-def]
    _assert_unchanged(
        client,
        session_factory,
        "post",
        "/sources",
        422,
        field=field,
        json={"title": "x", field: value},
    )


def test_duplicate_slug_is_409(client, graph, session_factory):  # type: ignore[no-untyped-def]
    existing = client.get(f"{API}/problems/{graph['problem']}").json()
    error = _assert_unchanged(
        client,
        session_factory,
        "post",
        "/problems",
        409,
        field="slug",
        json={"title": "other", "slug": existing["slug"]},
    )
    assert error["details"]["existing_id"] == graph["problem"]


def test_null_for_required_column_on_update(client, graph, session_factory):  # type: ignore[no-untyped-def]
    _assert_unchanged(
        client,
        session_factory,
        "patch",
        f"/claims/{graph['claim']}",
        422,
        field="text",
        json={"text": None},
    )


def test_delete_with_dependents_is_409_listing_them(client, graph, session_factory):  # type: ignore[no-untyped-def]
    error = _assert_unchanged(client, session_factory, "delete", f"/sources/{graph['source']}", 409)
    tables = {d["table"] for d in error["details"]["dependents"]}
    assert {
        "evidence",
        "perspective_sources",
        "tension_sources",
        "event_sources",
        "edges",
    } <= tables
    claim_error = _assert_unchanged(
        client, session_factory, "delete", f"/claims/{graph['claim']}", 409
    )
    evidence = [d for d in claim_error["details"]["dependents"] if d["table"] == "evidence"]
    assert evidence[0]["ids"] == [graph["evidence"]]


def test_cascade_delete_removes_dependents(client, graph):  # type: ignore[no-untyped-def]
    assert (
        client.delete(f"{API}/sources/{graph['source']}", params={"cascade": True}).status_code
        == 204
    )
    assert client.get(f"{API}/evidence/{graph['evidence']}").status_code == 404
    assert client.get(f"{API}/edges/{graph['edge']}").status_code == 404
    perspective = client.get(f"{API}/perspectives/{graph['perspective']}").json()
    assert perspective["source_ids"] == []
    # The claim itself stays: it only lost a piece of evidence.
    assert client.get(f"{API}/claims/{graph['claim']}").status_code == 200


def test_delete_without_dependents(client, graph):  # type: ignore[no-untyped-def]
    assert client.delete(f"{API}/edges/{graph['edge']}").status_code == 204


def test_unknown_route_and_method(client):  # type: ignore[no-untyped-def]
    response = client.get(f"{API}/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.put(f"{API}/problems")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
