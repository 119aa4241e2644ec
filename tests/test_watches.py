"""Watches polled against recorded provider responses: new items reach the inbox once, a
second poll adds nothing; paging, feed validators, rate limits and bad input."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from app.clients import watching
from app.clients.rate import RateLimiter
from app.models import InboxItem, InboxKey
from tests.helpers import API, post
from tests.watch_fixtures import (
    ARXIV_QUERY,
    ATOM_URL,
    RSS_URL,
    S2_REFERENCES_OF,
    RecordedProviders,
)


@pytest.fixture
def providers(client: TestClient) -> RecordedProviders:
    transport = RecordedProviders()
    client.app.state.watch_transport = transport  # type: ignore[attr-defined]
    sleeps: list[float] = []
    client.app.state.watch_sleep = sleeps.append  # type: ignore[attr-defined]
    transport.sleeps = sleeps  # type: ignore[attr-defined]
    post(client, "/threads", {"title": "Generalization"})
    return transport


def _watch(client: TestClient, provider: str, query: str) -> dict[str, Any]:
    return post(
        client, "/threads/1/watches", {"name": provider, "provider": provider, "query": query}
    )


def _poll(client: TestClient, watch_id: int) -> dict[str, Any]:
    return post(client, f"/watches/{watch_id}/poll", None, 200)


def _inbox_titles(client: TestClient, watch_id: int) -> list[str]:
    page = client.get(f"{API}/threads/1/inbox", params={"watch_id": watch_id, "limit": 500})
    return sorted(i["title"] for i in page.json()["items"])


@pytest.mark.parametrize(
    ("provider", "query", "expected"),
    [
        ("arxiv", ARXIV_QUERY, 2),
        ("semanticscholar_search", "turing", 100),
        ("openalex", "title.search:riccardia", 1),
        ("feed", RSS_URL, 2),
        ("feed", ATOM_URL, 2),
    ],
)
def test_new_items_arrive_once(
    client: TestClient, providers: RecordedProviders, provider: str, query: str, expected: int
) -> None:
    watch = _watch(client, provider, query)
    first = _poll(client, watch["id"])
    assert (first["status"], first["added"], first["requests"]) == ("ok", expected, 1)
    titles = _inbox_titles(client, watch["id"])
    assert len(titles) == expected
    second = _poll(client, watch["id"])
    assert second["added"] == 0 and second["item_ids"] == []
    assert _inbox_titles(client, watch["id"]) == titles
    state = client.get(f"{API}/watches/{watch['id']}").json()
    assert (state["items_found"], state["pending"], state["failures"]) == (expected, expected, 0)


def test_arxiv_items_and_request(client: TestClient, providers: RecordedProviders) -> None:
    watch = _watch(client, "arxiv", ARXIV_QUERY)
    _poll(client, watch["id"])
    request = providers.requests[-1]
    assert request.url.params["search_query"] == ARXIV_QUERY
    assert (request.url.params["sortBy"], request.url.params["sortOrder"]) == (
        "submittedDate",
        "descending",
    )
    assert request.url.params["max_results"] == "50"
    items = client.get(f"{API}/threads/1/inbox").json()["items"]
    by_id = {i["external_id"]: i for i in items}
    assert set(by_id) == {"1111.2011", "cond-mat/0607501"}
    bethe = by_id["1111.2011"]["data"]
    assert bethe["arxiv"] == "1111.2011v2" and bethe["doi"] == "10.1103/PhysRevB.85.115117"
    assert bethe["title"].startswith("Quantum Criticality for Extended Nodes on a Bethe")
    assert bethe["authors"][0] == {"given": "James M.", "family": "Murray"}
    # The cursor holds the newest submission date the provider showed.
    cursor = client.get(f"{API}/watches/{watch['id']}").json()["cursor"]
    assert cursor == {"polled": True, "newest": "2011-11-08"}
    # An accepted arXiv item becomes a preprint source with its identifiers.
    accepted = post(client, f"/inbox/{by_id['1111.2011']['id']}/accept", None, 200)
    source = client.get(f"{API}/sources/{accepted['source_id']}").json()
    assert (source["arxiv"], source["kind"]) == ("1111.2011v2", "preprint")


def test_semantic_scholar_pages_back_until_nothing_is_new(
    client: TestClient,
    providers: RecordedProviders,
    session_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = _watch(client, "semanticscholar_references", S2_REFERENCES_OF)
    first = _poll(client, watch["id"])
    # The first page holds 50 references, 10 of them with no paperId (S2 knows nothing of
    # them): 40 items. A first poll reads one page only.
    assert (first["added"], first["requests"]) == (40, 1)
    offsets = [r.url.params["offset"] for r in providers.requests]
    assert offsets == ["0"] and providers.requests[0].url.path.endswith(
        "/paper/DOI:10.2139/ssrn.2250500/references"
    )
    # A poll that finds nothing new on the first page stops there.
    providers.requests.clear()
    assert _poll(client, watch["id"])["added"] == 0
    assert [r.url.params["offset"] for r in providers.requests] == ["0"]
    # One item of the first page is new (the thread forgets it here): later polls read on
    # while pages bring something new, up to the last page (no "next").
    with session_factory() as session:
        session.execute(delete(InboxKey).where(InboxKey.item_id == 1))
        session.execute(delete(InboxItem).where(InboxItem.id == 1))
        session.commit()
    providers.requests.clear()
    providers.sleeps.clear()  # type: ignore[attr-defined]
    monkeypatch.setattr(watching, "LIMITER", RateLimiter())  # no earlier test's requests
    rest = _poll(client, watch["id"])
    assert [r.url.params["offset"] for r in providers.requests] == ["0", "50"]
    assert rest["added"] == 1 + 4  # the forgotten one, and the last page's 4 with a paperId
    # Requests to one provider are spaced by its rate limit (1 s for Semantic Scholar): the
    # second page waited for its slot (sleep is recorded, not slept, here).
    assert providers.sleeps == [pytest.approx(1.0, abs=0.05)]  # type: ignore[attr-defined]


def test_feed_validators_are_sent_back(client: TestClient, providers: RecordedProviders) -> None:
    providers.etag = '"v1"'
    watch = _watch(client, "feed", RSS_URL)
    _poll(client, watch["id"])
    cursor = client.get(f"{API}/watches/{watch['id']}").json()["cursor"]
    assert cursor == {"etag": '"v1"'}
    again = _poll(client, watch["id"])
    assert providers.requests[-1].headers["If-None-Match"] == '"v1"'
    assert (again["added"], again["already_seen"]) == (0, 0)  # 304: nothing to look at
    items = client.get(f"{API}/threads/1/inbox").json()["items"]
    about = next(i for i in items if i["external_id"] == "https://anaderi.github.io/page/about/")
    assert about["data"]["kind"] == "blog_post"
    assert about["data"]["date"] == "2016-08-08"
    assert about["data"]["venue"] == "Off-by-mind"
    assert about["data"]["abstract"].startswith("I’m head of Yandex School of Data Analysis")


def test_provider_error_answers_are_recorded(
    client: TestClient, providers: RecordedProviders
) -> None:
    # A feed that answers 404: a provider error, recorded on the watch.
    watch = _watch(client, "feed", "https://nowhere.example.org/feed.xml")
    failed = client.post(f"{API}/watches/{watch['id']}/poll")
    assert failed.status_code == 502
    assert failed.json()["error"]["message"] == "the feed answered 404"
    state = client.get(f"{API}/watches/{watch['id']}").json()
    assert state["failures"] == 1 and state["next_retry_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "feed", "query": "not a url"}, "query"),
        ({"provider": "semanticscholar_citations", "query": "some words"}, "query"),
        ({"provider": "openalex", "query": "grokking"}, "query"),
        ({"provider": "nature", "query": "x"}, "provider"),
        ({"provider": "arxiv", "query": "all:x", "every_minutes": 1}, "every_minutes"),
        ({"provider": "arxiv", "query": "all:x", "every_minutes": True}, "every_minutes"),
    ],
)
def test_bad_watches_are_refused(
    client: TestClient, providers: RecordedProviders, body: dict[str, Any], field: str
) -> None:
    answer = client.post(f"{API}/threads/1/watches", json={"name": "w", **body})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"].endswith(field)
    assert client.get(f"{API}/threads/1/watches").json()["total"] == 0


def test_watch_updates_and_deletion(client: TestClient, providers: RecordedProviders) -> None:
    watch = _watch(client, "arxiv", ARXIV_QUERY)
    _poll(client, watch["id"])
    polled = client.get(f"{API}/watches/{watch['id']}").json()
    hourly = client.patch(f"{API}/watches/{watch['id']}", json={"every_minutes": 60}).json()
    moved_by = datetime.fromisoformat(hourly["next_poll_at"]) - datetime.fromisoformat(
        polled["last_success_at"]
    )
    assert moved_by == timedelta(minutes=60)  # rescheduled from the last poll, not a day
    paused = client.patch(f"{API}/watches/{watch['id']}", json={"active": False}).json()
    assert paused["active"] is False and paused["cursor"]["polled"] is True
    resumed = client.patch(f"{API}/watches/{watch['id']}", json={"active": True})
    assert resumed.status_code == 200, resumed.text
    assert datetime.fromisoformat(resumed.json()["next_poll_at"]) <= datetime.now(UTC)  # due
    moved = client.patch(f"{API}/watches/{watch['id']}", json={"query": "all:grokking"}).json()
    assert moved["cursor"] == {}  # a new question starts over
    assert client.patch(f"{API}/watches/{watch['id']}", json={"query": None}).status_code == 422
    assert client.delete(f"{API}/watches/{watch['id']}").status_code == 204
    assert client.get(f"{API}/watches/{watch['id']}").status_code == 404
    items = client.get(f"{API}/threads/1/inbox").json()["items"]
    assert len(items) == 2 and {i["watch_id"] for i in items} == {None}  # items stay


def test_rate_limiter_spaces_requests_per_key() -> None:
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    slept: list[float] = []
    waits = [limiter.wait("arXiv", 3.0, slept.append) for _ in range(3)]
    assert waits == [0.0, 3.0, 6.0]
    assert limiter.wait("OpenAlex", 0.1, slept.append) == 0.0  # another provider: no wait
    now[0] += 10
    assert limiter.wait("arXiv", 3.0, slept.append) == 0.0  # the slots have passed


def test_feeds_of_papers_keep_their_identifiers(seeded: TestClient) -> None:
    """An arXiv link in a feed is that preprint: one already in the thread is not offered;
    a DOI link is a paper with that DOI. A page that is not a feed is an error."""
    rss = """<?xml version="1.0"?><rss version="2.0"><channel><title>Papers</title>
    <item><title>Does learning require memorization?</title>
      <link>https://arxiv.org/abs/1906.05271</link><guid>a</guid></item>
    <item><title>A published paper</title><link>https://doi.org/10.1234/abc.5</link><guid>b</guid></item>
    </channel></rss>"""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/page.html":
            return httpx.Response(200, text="<html><body><h1>Not a feed</h1></body></html>")
        return httpx.Response(200, text=rss)

    seeded.app.state.watch_transport = httpx.MockTransport(answer)  # type: ignore[attr-defined]
    seeded.app.state.watch_sleep = lambda _s: None  # type: ignore[attr-defined]
    watch = _watch(seeded, "feed", "https://papers.example.org/rss")
    report = _poll(seeded, watch["id"])
    assert (report["added"], report["already_in_thread"]) == (1, 1)
    item = seeded.get(f"{API}/inbox/{report['item_ids'][0]}").json()
    assert (item["data"]["kind"], item["data"]["doi"]) == ("paper", "10.1234/abc.5")
    page = _watch(seeded, "feed", "https://papers.example.org/page.html")
    failed = seeded.post(f"{API}/watches/{page['id']}/poll")
    assert failed.status_code == 502 and "neither RSS nor Atom" in failed.json()["error"]["message"]
