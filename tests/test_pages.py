"""The HTML pages through the ASGI app, on both databases: every page type answers on the
seed data, missing things are HTML 404s, forms check CSRF and refuse what a reader may not
do without writing anything. (tests/browser/ drives the same pages in Chromium.)"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.models import ExperimentRun, ThreadVersion
from app.web.graph_svg import layout
from app.web.run_form import fields, parse
from tests.helpers import API, TEST_TOKEN, anonymous

PAGES = [
    "/",
    "/problems/1",
    "/problems/overparameterized-generalization",
    "/claims/1",
    "/tensions/1",
    "/tensions/2",
    "/sources/1",
    "/actors/1",
    "/search?q=memorization",
    "/search?q=benign&type=claim",
    "/threads",
    "/threads/1",
    "/threads/1/versions/6",
    "/experiments",
    "/experiments/grokking",
    "/graph",
    "/graph?node=claim:1&k=2&relation=supports&relation=contests",
    "/login",
]


def count(session_factory: Any, model: Any) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_every_page_type_answers_html_on_the_seed(seeded: TestClient) -> None:
    for path in PAGES:
        response = seeded.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert response.headers["content-type"].startswith("text/html"), path
        assert "<h1>" in response.text and 'href="/static/atlas.css"' in response.text, path
    assert "Is memorization necessary" in seeded.get("/").text  # an open tension on home
    found = seeded.get("/search?q=memorization").text
    assert "<mark>memorization</mark>" in found.lower()
    copies = seeded.get("/sources/1").text  # work 1: sources 1 and 29
    assert 'href="/sources/29"' in copies and "which has 2 copies" in copies
    for path, target in (("/works/1", "/sources/"), ("/perspectives/1", "/actors/")):
        moved = seeded.get(path, follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"].startswith(target)
    assert seeded.get("/static/run-progress.js").status_code == 200


def test_missing_things_are_html_pages_with_their_status(seeded: TestClient) -> None:
    for path in (
        "/claims/99999",
        "/tensions/no-such-slug",
        "/sources/99999",
        "/works/99999",
        "/threads/1/versions/99",
        "/experiments/no_such",
        "/runs/99999",
        "/graph?node=claim:99999",
    ):
        response = seeded.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert 'role="alert"' in response.text, path
    bad = seeded.get("/graph?node=nonsense")
    assert bad.status_code == 422 and "type:id" in bad.text
    earlier = seeded.get("/threads/1/diff?from=6&to=6")
    assert earlier.status_code == 422 and "earlier version" in earlier.text
    assert seeded.get("/search?q=%21%21").status_code == 400
    # Bad parameters and unknown paths are pages too; the API keeps answering in JSON.
    for path, status in (
        ("/graph?k=0", 422),
        ("/sources/abc", 422),
        ("/search?offset=-1", 422),
        ("/threads/1/diff?from=6", 422),
        ("/no/such/page", 404),
    ):
        answer = seeded.get(path)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert 'role="alert"' in answer.text, path
    assert seeded.get(f"{API}/no/such").headers["content-type"] == "application/json"
    assert seeded.get(f"{API}/sources/abc").json()["error"]["code"] == "not_found"


def test_home_lists_every_unresolved_tension(seeded: TestClient) -> None:
    tensions = seeded.get(f"{API}/tensions", params={"limit": 100}).json()["items"]
    first, second = tensions[0], tensions[1]
    for tension, status in ((first, "narrowing"), (second, "resolved")):
        body = {"status": status, "reason": "a test", "changed_by": "tests"}
        assert seeded.post(f"{API}/tensions/{tension['id']}/status", json=body).status_code == 200
    home = seeded.get("/").text
    assert f'href="/tensions/{first["slug"]}"' in home and "narrowing" in home
    assert f'href="/tensions/{second["slug"]}"' not in home.split("Latest narrative")[0]


def test_publishing_from_the_form_needs_a_login_and_its_csrf_token(
    seeded: TestClient, session_factory: Any
) -> None:
    client = anonymous(seeded)
    before = count(session_factory, ThreadVersion)
    refused_anonymous = client.post("/threads/1/versions", data={"narrative": ""})
    assert (
        refused_anonymous.status_code == 401 and "Log in</a> with a token" in refused_anonymous.text
    )
    assert "Publish version 7" not in client.get("/threads/1").text
    client.post("/login", data={"token": TEST_TOKEN, "next": "/threads/1"})
    page = client.get("/threads/1").text
    assert "Publish version 7" in page and 'name="csrf_token"' in page
    refused = client.post("/threads/1/versions", data={"narrative": "x", "csrf_token": "nope"})
    assert refused.status_code == 403 and count(session_factory, ThreadVersion) == before
    assert "X-CSRF-Token: missing or wrong" in refused.text  # as a page
    # Arriving from another site's link, the Strict CSRF cookie is not sent: the form still
    # carries the session's token.
    csrf = client.cookies["atlas_csrf"]
    client.cookies.delete("atlas_csrf")
    assert f'name="csrf_token" value="{csrf}"' in client.get("/threads/1").text
    client.cookies.set("atlas_csrf", csrf)
    published = client.post(
        "/threads/1/versions",
        data={"narrative": "", "csrf_token": client.cookies["atlas_csrf"]},
        follow_redirects=False,
    )
    assert published.status_code == 303
    assert published.headers["location"] == "/threads/deep-learning-theory-broken/versions/7"
    version = client.get(published.headers["location"])
    assert (
        "generated digest" in version.text and count(session_factory, ThreadVersion) == before + 1
    )
    diff = client.get("/threads/1/diff?from=6&to=7")
    assert diff.status_code == 200 and "version 6 → 7" in diff.text


def test_the_run_form_refuses_custom_parameters_to_readers_and_names_bad_fields(
    seeded: TestClient, session_factory: Any
) -> None:
    client = anonymous(seeded)
    refused = client.post("/experiments/benign_overfitting/runs", data={"draws": "2"})
    assert refused.status_code == 401 and "log in first" in refused.text
    full = client.post("/experiments/benign_overfitting/runs", data={"preset": "full"})
    assert full.status_code == 401
    client.post("/login", data={"token": TEST_TOKEN})
    csrf = client.cookies["atlas_csrf"]
    bad_list = client.post(
        "/experiments/benign_overfitting/runs", data={"n_values": "50, many", "csrf_token": csrf}
    )
    assert bad_list.status_code == 422 and "params.n_values" in bad_list.text
    out_of_bounds = client.post(
        "/experiments/benign_overfitting/runs", data={"draws": "1000", "csrf_token": csrf}
    )
    assert out_of_bounds.status_code == 422 and "params.draws" in out_of_bounds.text
    bad_seed = client.post(
        "/experiments/benign_overfitting/runs", data={"seed": "x", "csrf_token": csrf}
    )
    assert bad_seed.status_code == 422 and "seed" in bad_seed.text
    assert 'value="x"' in bad_seed.text  # the form comes back as it was sent
    assert count(session_factory, ExperimentRun) == 0


SCHEMA = {
    "properties": {
        "sizes": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        "rate": {"type": "number", "minimum": 0.0, "maximum": 1.0},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "flag": {"type": "boolean"},
        "cap": {"anyOf": [{"type": "integer", "maximum": 9}, {"type": "null"}]},
    }
}


def test_the_run_form_is_built_from_the_schema_and_parses_back() -> None:
    built = {f.name: f for f in fields(SCHEMA, {"quick": {"rate": 0.5, "sizes": [1, 2]}})}
    assert {n: f.kind for n, f in built.items()} == {
        "sizes": "list:integer",
        "rate": "number",
        "mode": "enum",
        "flag": "boolean",
        "cap": "integer",
    }
    assert built["cap"].nullable and built["cap"].maximum == 9 and built["sizes"].minimum == 1
    assert built["rate"].placeholder == "quick: 0.5" and built["sizes"].placeholder == "quick: 1, 2"
    form = list(built.values())
    sent = {"sizes": "3, 5,8", "rate": "0.25", "mode": "b", "flag": "false", "cap": "none"}
    assert parse(form, sent) == {
        "sizes": [3, 5, 8],
        "rate": 0.25,
        "mode": "b",
        "flag": False,
        "cap": None,
    }
    assert parse(form, {"rate": "  ", "sizes": ""}) == {}  # empty: the preset's value
    for name, value in (("sizes", "3, x"), ("mode", "c"), ("flag", "yes"), ("rate", "fast")):
        with pytest.raises(Exception, match=f"params.{name}"):
            parse(form, {name: value})


def test_the_graph_layout_puts_rings_around_the_centre() -> None:
    result = {
        "nodes": [{"id": "claim:1", "type": "claim", "label": "c", "hops": 0}]
        + [{"id": f"source:{i}", "type": "source", "label": f"s{i}", "hops": 1} for i in range(40)]
        + [{"id": "actor:1", "type": "actor", "label": "a" * 60, "hops": 2}],
        "edges": [
            {"source": f"source:{i}", "target": "claim:1", "relation": "supports"}
            for i in range(40)
        ]
        + [{"source": "actor:1", "target": "source:3", "relation": "authored"}],
    }
    nodes, edges, size = layout(result)
    by_id = {n.id: n for n in nodes}
    centre = by_id["claim:1"]
    assert (centre.x, centre.y) == (size / 2, size / 2)
    distance = lambda n: ((n.x - centre.x) ** 2 + (n.y - centre.y) ** 2) ** 0.5  # noqa: E731
    ring = {round(distance(by_id[f"source:{i}"]), 6) for i in range(40)}
    assert len(ring) == 1 and distance(by_id["actor:1"]) > ring.pop()
    assert max(max(n.x, n.y) for n in nodes) < size and min(min(n.x, n.y) for n in nodes) > 0
    assert len(edges) == 41 and {e.tone for e in edges} == {"supporting", "neutral"}
    assert by_id["actor:1"].short.endswith("…") and len(by_id["actor:1"].short) <= 28
    left = [n for n in nodes if n.hops == 1 and n.x < centre.x - 1]
    right = [n for n in nodes if n.hops == 1 and n.x > centre.x + 1]
    assert {n.label_anchor for n in left} == {"end"} and {n.label_anchor for n in right} == {
        "start"
    }


BIB = b"@article{a1, title={Form-typed uploads still import}, author={Doe, Jane}, year={2024}}"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_raw_body_sent_as_a_form_still_reaches_the_import(client: TestClient) -> None:
    """`curl -d @refs.bib` labels the file as a form: reading the CSRF field must not eat it."""
    with_token = client.post(f"{API}/sources/import", content=BIB, headers=FORM_TYPE)
    assert with_token.status_code == 200 and with_token.json()["created"] == 1, with_token.text
    browser = anonymous(client)
    browser.post("/login", data={"token": TEST_TOKEN})
    csrf = {"X-CSRF-Token": browser.cookies["atlas_csrf"], **FORM_TYPE}
    second = BIB.replace(b"a1", b"a2").replace(b"still import", b"import from a browser too")
    again = browser.post(f"{API}/sources/import", content=second, headers=csrf)
    assert again.status_code == 200 and again.json()["created"] == 1, again.text


def test_login_returns_only_to_a_page_of_this_site(client: TestClient) -> None:
    browser = anonymous(client)
    for target, lands in (
        ("/threads/1", "/threads/1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
    ):
        answer = browser.post(
            "/login", data={"token": TEST_TOKEN, "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == lands, target
    assert 'name="next" value="/tensions/2"' in browser.get("/login?next=/tensions/2").text
