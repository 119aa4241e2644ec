"""Bulk intake: one or many sources, all-or-nothing or per-item, identity and grouping."""

from tests.helpers import API, post, snapshot

SOURCES = f"{API}/sources"


def _many(n: int) -> list[dict]:
    return [
        {
            "title": f"Paper number {i}",
            "doi": f"10.5555/bulk.{i}",
            "year": 2000 + i % 25,
            "authors": [f"Author {i % 97}"],
            "tags": ["bulk"],
        }
        for i in range(n)
    ]


def test_ten_thousand_in_one_request(client, session_factory):  # type: ignore[no-untyped-def]
    items = _many(10_000)
    before = snapshot(session_factory)
    bad = [*items[:5000], {**items[5000], "date": "2019-13"}, *items[5001:]]
    refused = client.post(SOURCES, json=bad)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "5000.date" and "item 5000" in error["message"]
    assert error["details"]["count"] == 1
    assert snapshot(session_factory) == before

    report = client.post(SOURCES, params={"mode": "report"}, json=bad)
    assert report.status_code == 200
    body = report.json()
    assert (body["created"], body["invalid"], body["duplicates"]) == (9999, 1, 0)
    assert body["items"][5000] == {
        "index": 5000,
        "status": "invalid",
        "field": "date",
        "message": body["items"][5000]["message"],
    }
    assert client.get(SOURCES, params={"tag": "bulk"}).json()["total"] == 9999

    again = client.post(SOURCES, json=items[:10])
    assert again.status_code == 409
    assert again.json()["error"]["details"]["problems"][0]["existing_id"] == body["items"][0]["id"]


def test_all_or_nothing_succeeds_as_a_whole(client):  # type: ignore[no-untyped-def]
    created = client.post(SOURCES, json=_many(3))
    assert created.status_code == 201
    items = created.json()["items"]
    assert [i["status"] for i in items] == ["created"] * 3
    for item in items:
        assert client.get(f"{SOURCES}/{item['id']}").json()["work_id"] == item["work_id"]


def test_duplicates_inside_one_request(client):  # type: ignore[no-untyped-def]
    items = [{"title": "a", "arxiv": "1902.04742"}, {"title": "b", "arxiv": "arXiv:1902.04742"}]
    refused = client.post(SOURCES, json=items)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["problems"][0]["duplicate_of_index"] == 0
    report = client.post(SOURCES, params={"mode": "report"}, json=items).json()
    first, second = report["items"]
    assert first["status"] == "created"
    assert second["status"] == "duplicate" and second["existing_id"] == first["id"]


def test_bad_bodies(client, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    assert client.post(SOURCES, json="a string").status_code == 422
    assert (
        client.post(SOURCES, json=[1, "x", None], params={"mode": "report"}).json()["invalid"] == 3
    )
    too_many = client.post(SOURCES, json=[{"title": "t"}] * 10_001)
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "body"
    assert client.post(SOURCES, json=[], params={"mode": "report"}).json()["created"] == 0
    assert snapshot(session_factory) == before


def test_arxiv_versions_join_one_work(client):  # type: ignore[no-untyped-def]
    v1 = post(
        client,
        "/sources",
        {"title": "Uniform convergence may be unable …", "arxiv": "1902.04742v1"},
    )
    v2 = post(client, "/sources", {"title": "[1902.04742v2] Uniform convergence may be unable"})
    assert v2["arxiv"] == "1902.04742v2" and v2["raw_title"].startswith("[1902.04742v2]")
    assert v2["work_id"] == v1["work_id"]
    bulk = client.post(
        SOURCES,
        json=[{"title": "x", "arxiv": "2103.04554v1"}, {"title": "y", "arxiv": "2103.04554v2"}],
    ).json()["items"]
    assert bulk[0]["work_id"] == bulk[1]["work_id"] and bulk[1]["grouped_by"] == "arxiv"


def test_posts_and_mirrors_join_papers_do_not(client):  # type: ignore[no-untyped-def]
    original = post(
        client,
        "/sources",
        {
            "title": "The other paper that killed deep learning theory",
            "host": "Alignment Forum (2026-04-27)",
        },
    )
    mirror = post(
        client,
        "/sources",
        {"title": "The other paper that killed deep learning theory — LessWrong", "host": "feed"},
    )
    assert mirror["work_id"] == original["work_id"] and mirror["title"] == original["title"]
    cut = post(
        client, "/sources", {"title": "The other paper that killed deep ...", "kind": "forum_post"}
    )
    assert cut["work_id"] == original["work_id"]
    paper = post(
        client,
        "/sources",
        {"title": "Is Memorization Actually Necessary for Generalization - OpenReview"},
    )
    same_title = post(
        client,
        "/sources",
        {"title": "Is Memorization Actually Necessary for Generalization? - OpenReview"},
    )
    assert paper["work_id"] != same_title["work_id"]
