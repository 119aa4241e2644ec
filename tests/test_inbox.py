"""The inbox: items checked against known sources and works on arrival, then accepted,
rejected (remembered) or merged, one by one or in bulk; the version digest names them."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from app.clients.watching import Found
from app.models import Claim, InboxItem, Source, ThreadItem, Watch
from app.services import inbox
from tests.helpers import API, TEST_TOKEN, anonymous, post, snapshot

FELDMAN_PREPRINT = 71  # seeded: arXiv 1906.05271, in the thread
PUBLISHED_FELDMAN = {
    "kind": "paper",
    "title": "Does Learning Require Memorization? A Short Tale about a Long Tail",
    "authors": [{"given": "Vitaly", "family": "Feldman"}],
    "date": "2020-06-22",
    "venue": "STOC 2020",
    "doi": "10.1145/3357713.3384290",
}
NEW_PAPER = {
    "kind": "preprint",
    "title": "Grokking beyond modular arithmetic: a lazy-to-rich transition",
    "authors": [{"given": "Ada", "family": "Example"}],
    "date": "2026-10-01",
    "arxiv": "2610.01234v1",
    "abstract": "Delayed generalization after memorization as a move from lazy to rich "
    "training dynamics, with weight decay setting the delay.",
}


def _watch(client: Any, name: str = "feed watch") -> dict[str, Any]:
    return post(
        client,
        "/threads/1/watches",
        {"name": name, "provider": "feed", "query": "https://example.org/feed.xml"},
    )


def _file(session_factory: Any, watch_id: int, *items: tuple[str, dict[str, Any]]) -> Any:
    with session_factory() as session:
        watch = session.get(Watch, watch_id)
        report = inbox.receive(session, watch, [Found(ext, data) for ext, data in items])
        session.commit()
    return report


def _count(session_factory: Any, model: Any) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_arrival_checks_known_sources_and_works(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = seeded
    watch = _watch(client)
    outside = post(
        client,
        "/sources",
        {"title": "A source outside the thread", "doi": "10.1234/outside.1", "kind": "paper"},
    )
    with session_factory() as session:
        in_thread = session.get(Source, FELDMAN_PREPRINT)
        assert in_thread is not None
        feldman_work = in_thread.work_id
    report = _file(
        session_factory,
        watch["id"],
        ("e1", {"title": "Does learning require memorization?", "arxiv": "1906.05271"}),
        ("e2", {"title": "A source outside the thread", "doi": "10.1234/OUTSIDE.1"}),
        ("e3", PUBLISHED_FELDMAN),
        ("e4", NEW_PAPER),
        ("e5", {"title": ""}),  # a provider record no source could be made of
    )
    assert (report.already_in_thread, report.invalid, len(report.added)) == (1, 1, 3)
    items = client.get(f"{API}/threads/1/inbox").json()
    assert items["total"] == 3
    by_title = {i["external_id"]: i for i in items["items"]}
    assert by_title["e2"]["known_source_id"] == outside["id"]
    assert by_title["e2"]["match_rule"] == "doi"
    assert by_title["e3"]["known_source_id"] is None
    assert (by_title["e3"]["known_work_id"], by_title["e3"]["match_rule"]) == (
        feldman_work,
        "published_version",
    )
    assert by_title["e4"]["known_work_id"] is None and by_title["e4"]["known_source_id"] is None

    # Accepting a known source adds it to the thread; no source is created.
    sources_before = _count(session_factory, Source)
    accepted = post(client, f"/inbox/{by_title['e2']['id']}/accept", None, 200)
    assert (accepted["status"], accepted["source_id"]) == ("accepted", outside["id"])
    assert accepted["decided_by"] == "tests"
    assert _count(session_factory, Source) == sources_before
    # A copy of a known work joins that work.
    copy = post(client, f"/inbox/{by_title['e3']['id']}/accept", None, 200)
    new_copy = client.get(f"{API}/sources/{copy['source_id']}").json()
    assert new_copy["work_id"] == feldman_work
    assert new_copy["doi"] == "10.1145/3357713.3384290"
    with session_factory() as session:
        item = session.get(ThreadItem, (1, copy["source_id"]))
        assert item is not None and item.found_via == "watch:feed watch"
    # Deciding twice is refused.
    again = client.post(f"{API}/inbox/{by_title['e3']['id']}/reject", json={})
    assert again.status_code == 409 and "already accepted" in again.json()["error"]["message"]


def test_reject_is_remembered_and_merge_attaches_a_copy(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = seeded
    watch = _watch(client)
    report = _file(session_factory, watch["id"], ("n1", NEW_PAPER))
    item_id = report.added[0]
    rejected = post(client, f"/inbox/{item_id}/reject", {"reason": "Not about theory."}, 200)
    assert (rejected["status"], rejected["reason"]) == ("rejected", "Not about theory.")
    # The same work again, from another watch and under another provider id: not offered.
    other = _watch(client, "second watch")
    again = _file(session_factory, other["id"], ("other-id", NEW_PAPER))
    assert (again.added, again.already_seen) == ([], 1)
    assert client.get(f"{API}/threads/1/inbox").json()["total"] == 0
    assert client.get(f"{API}/threads/1/inbox?status=rejected").json()["total"] == 1

    # Merge: a mirror of a seeded post kept as a copy of that post's work.
    target = client.get(f"{API}/sources/1").json()
    mirror = {
        "kind": "blog_post",
        "title": f"{target['title']} (mirror)",
        "url": "https://mirror.example.org/post",
    }
    item2 = _file(session_factory, watch["id"], ("m1", mirror)).added[0]
    merged = post(client, f"/inbox/{item2}/merge", {"source_id": 1}, 200)
    assert merged["status"] == "merged"
    copy = client.get(f"{API}/sources/{merged['source_id']}").json()
    assert copy["work_id"] == target["work_id"] and copy["id"] != 1
    decided = client.post(f"{API}/inbox/{item_id}/merge", json={"source_id": 1})
    assert decided.status_code == 409  # rejected already
    pending = _file(
        session_factory, watch["id"], ("m2", dict(mirror, url="https://m2.example.org/p"))
    )
    before = snapshot(session_factory)
    missing = client.post(f"{API}/inbox/{pending.added[0]}/merge", json={"source_id": 999999})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "source_id"
    assert snapshot(session_factory) == before


def test_bulk_is_all_or_nothing(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = seeded
    watch = _watch(client)
    a = _file(session_factory, watch["id"], ("a", NEW_PAPER)).added[0]
    second = dict(NEW_PAPER, title="Another new paper on double descent", arxiv="2610.04321")
    b = _file(session_factory, watch["id"], ("b", second)).added[0]
    third = dict(NEW_PAPER, title="A third paper", arxiv="2610.05555")
    c = _file(session_factory, watch["id"], ("c", third)).added[0]
    post(client, f"/inbox/{c}/reject", None, 200)
    before = snapshot(session_factory)
    refused = client.post(
        f"{API}/threads/1/inbox/bulk", json={"action": "accept", "item_ids": [a, b, c]}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "item_ids.2"
    unknown = client.post(
        f"{API}/threads/1/inbox/bulk", json={"action": "reject", "item_ids": [a, 999999]}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "item_ids.1"
    assert snapshot(session_factory) == before
    done = post(client, "/threads/1/inbox/bulk", {"action": "accept", "item_ids": [a, b]}, 200)
    assert [i["status"] for i in done["items"]] == ["accepted", "accepted"]
    with session_factory() as session:
        for item_id in (a, b):
            row = session.get(InboxItem, item_id)
            assert row is not None and row.source_id is not None
            assert session.get(ThreadItem, (1, row.source_id)) is not None


def test_the_version_digest_names_accepted_items(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = seeded
    watch = _watch(client, "arXiv grokking")
    item_id = _file(session_factory, watch["id"], ("g", NEW_PAPER)).added[0]
    before = client.get(f"{API}/threads/1/versions").json()[-1]
    post(client, f"/inbox/{item_id}/accept", None, 200)
    changes = client.get(
        f"{API}/threads/1/changes", params={"since": before["published_at"]}
    ).json()
    assert [i["item_id"] for i in changes["inbox_accepted"]] == [item_id]
    version = post(client, "/threads/1/versions", {})
    md = client.get(f"{API}/threads/1/versions/{version['number']}", params={"format": "md"}).text
    assert "1 of them accepted from the inbox" in md
    line = next(x for x in md.splitlines() if NEW_PAPER["title"] in x)
    assert "(from the inbox, watch:arXiv grokking)" in line


def test_suggestions_for_an_item(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = seeded
    watch = _watch(client)
    item_id = _file(session_factory, watch["id"], ("g", NEW_PAPER)).added[0]
    answer = client.get(f"{API}/inbox/{item_id}/suggestions", params={"limit": 3}).json()
    assert answer["method"] == "fulltext:tfidf"  # tests run with embeddings off
    assert len(answer["topics"]) == 3 and len(answer["sources"]) == 3
    assert {t["type"] for t in answer["problems"]} == {"problem"}
    scores = [t["score"] for t in answer["topics"]]
    assert scores == sorted(scores, reverse=True)
    # An item about grokking: the claim the grokking experiment tests comes first, and the
    # seeded grokking paper among the closest sources.
    with session_factory() as session:
        grokking = session.scalar(select(Claim.id).where(Claim.experiment == "grokking"))
    assert answer["claims"][0]["id"] == grokking
    assert "grokking" in answer["sources"][0]["title"].lower()
    assert client.get(f"{API}/inbox/999999/suggestions").status_code == 404


def test_the_inbox_page_lists_items_and_takes_decisions(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    watch = _watch(seeded)
    item_id = _file(session_factory, watch["id"], ("g", NEW_PAPER)).added[0]
    client = anonymous(seeded)
    page = client.get("/threads/1/inbox")
    assert page.status_code == 200 and NEW_PAPER["title"] in page.text
    assert "Likely bears on:" in page.text and "fulltext:tfidf" in page.text
    assert "feed watch" in page.text and 'action="/inbox/' not in page.text  # not logged in
    refused = client.post(f"/inbox/{item_id}/decision", data={"action": "accept"})
    assert refused.status_code == 401
    client.post("/login", data={"token": TEST_TOKEN, "next": "/threads/1/inbox"})
    page = client.get("/threads/1/inbox").text
    assert f'action="/inbox/{item_id}/decision"' in page
    wrong = client.post(
        f"/inbox/{item_id}/decision", data={"action": "reject", "csrf_token": "nope"}
    )
    assert wrong.status_code == 403
    done = client.post(
        f"/inbox/{item_id}/decision",
        data={
            "action": "reject",
            "reason": "Off topic",
            "csrf_token": client.cookies["atlas_csrf"],
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("/inbox")
    assert seeded.get(f"{API}/inbox/{item_id}").json()["status"] == "rejected"
    rejected = client.get("/threads/1/inbox", params={"status": "rejected"}).text
    assert "Rejected by tests: Off topic" in rejected
    assert client.get("/threads/1/inbox", params={"status": "nonsense"}).status_code == 422


def test_two_curators_accepting_one_item_at_once(seeded, session_factory) -> None:  # type: ignore[no-untyped-def]
    watch = _watch(seeded)
    items = [
        # No identifier: no unique constraint would stop a second copy; the row lock must.
        _file(session_factory, watch["id"], (f"c{n}", {"title": f"A paper with no id, {n}"}))
        for n in range(4)
    ]
    sources_before = _count(session_factory, Source)

    def accept(item_id: int) -> int:
        return int(seeded.post(f"{API}/inbox/{item_id}/accept").status_code)

    for report in items:
        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(accept, [report.added[0]] * 2))
        assert codes == [200, 409]
    assert _count(session_factory, Source) == sources_before + len(items)
