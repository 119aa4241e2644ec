"""Narrative versions: the seeded Version 6, publishing, immutability, diffs, feed."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import feedparser

from tests.helpers import API, post

THREAD = f"{API}/threads/deep-learning-theory-broken"


def _md(client, number: int) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"{THREAD}/versions/{number}", params={"format": "md"})
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/markdown"
    )
    return response.text


def _section(md: str, name: str, following: str) -> list[str]:
    lines = md.splitlines()
    body = lines[lines.index(f"## {name}") + 1 : lines.index(f"## {following}")]
    return [ln for ln in body if ln.strip()]


def test_seeded_version_six(seeded):  # type: ignore[no-untyped-def]
    md = _md(seeded, 6)
    lines = md.splitlines()
    header = [ln for ln in lines[:6] if ln]
    assert header[0].startswith("# ") and header[0].endswith("· history")
    assert header[1:] == ["Version 6", "2026-04-30 21:09 UTC · 169 items"]
    sections = [ln[3:] for ln in lines if ln.startswith("## ")]
    assert sections == ["Narrative", "Timeline", "Perspectives", "Tensions", "Sources"]
    timeline = _section(md, "Timeline", "Perspectives")
    assert len(timeline) == 20
    dates = [re.match(r"- (\d{4}(?:-\d\d){0,2}):", ln).group(1) for ln in timeline]  # type: ignore[union-attr]
    assert sum(len(d) == 4 for d in dates) == 13 and dates.count("2019-06") == 1
    assert dates == sorted(dates, key=lambda d: (d[:4], d))  # sorted across precisions
    perspectives = _section(md, "Perspectives", "Tensions")
    assert sum(ln.startswith("Evolution:") for ln in perspectives) == 11
    assert sum(ln.startswith("### ") for ln in perspectives) == 11
    assert len(_section(md, "Tensions", "Sources")) == 7
    document = seeded.get(f"{THREAD}/versions/6").json()
    numbers = {n for s in document["sources"] for n in [s["number"], *s["aliases"]]}
    assert numbers == set(range(1, 75))  # every listing number resolves (aliases included)
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", md.split("\n## Sources\n")[0])}
    assert cited and cited <= numbers
    nagarajan = next(s for s in document["sources"] if s["number"] == 16)
    assert nagarajan["aliases"] == [17, 69, 70] and len(nagarajan["copies"]) == 4


def test_publish_diff_and_immutability(seeded):  # type: ignore[no-untyped-def]
    before = {
        fmt: seeded.get(f"{THREAD}/versions/6", params={"format": fmt}).content
        for fmt in ("json", "md", "html")
    }
    thread_id = seeded.get(THREAD).json()["id"]
    added = [
        post(
            seeded,
            "/sources",
            {"title": f"A new paper {i}", "year": 2026},
        )["id"]
        for i in range(3)
    ]
    for source_id in added:
        post(seeded, f"/threads/{thread_id}/items", {"source_id": source_id})
    event = post(
        seeded,
        "/events",
        {"date": "2026-05", "text": "A new event", "thread_id": thread_id, "source_ids": added[:1]},
    )
    tension = seeded.get(f"{API}/tensions/memorization-necessity").json()
    changed = seeded.post(
        f"{API}/tensions/{tension['id']}/status",
        json={"status": "narrowing", "reason": "a replication"},
    )
    assert changed.status_code == 200
    published = seeded.post(f"{THREAD}/versions", json={"narrative": "Three new papers [75]."})
    assert published.status_code == 201, published.text
    assert published.json()["number"] == 7 and published.json()["item_count"] == 77
    diff = seeded.get(f"{THREAD}/versions/6/diff/7").json()
    assert [s["copies"][0]["source_id"] for s in diff["sources_added"]] == added
    assert [s["number"] for s in diff["sources_added"]] == [75, 76, 77]
    assert diff["sources_removed"] == []
    assert [e["id"] for e in diff["timeline_added"]] == [event["id"]]
    assert diff["tension_status_changes"] == [
        {"id": tension["id"], "title": tension["title"], "from": "open", "to": "narrowing"}
    ]
    assert {p["change"] for p in diff["perspectives"]} == {"unchanged"}
    assert diff["claims_added"] == [] and diff["evidence_added"] == []
    lines = diff["narrative_diff"].splitlines()  # one diff line per narrative line
    assert "+Three new papers [75]." in lines and lines[0] == "--- version 6"
    old_last = seeded.get(f"{THREAD}/versions/6").json()["narrative"]["text"].splitlines()[-1]
    assert f"-{old_last}" in lines  # its own line, not run into the next one
    page = seeded.get(f"{THREAD}/versions/6/diff/7", params={"format": "html"})
    assert page.status_code == 200 and "narrowing" in page.text
    # Version 6 reads the same bytes after all that.
    for fmt, content in before.items():
        assert seeded.get(f"{THREAD}/versions/6", params={"format": fmt}).content == content
    for method in ("put", "patch", "delete"):
        response = getattr(seeded, method)(f"{THREAD}/versions/6")
        assert response.status_code == 405


def test_unresolved_citations_and_concurrent_publishes(seeded):  # type: ignore[no-untyped-def]
    refused = seeded.post(f"{THREAD}/versions", json={"narrative": "See [4] and [999], [1000]."})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "narrative" and error["details"]["unresolved"] == [999, 1000]
    assert "999" in error["message"]

    def publish(_i: int) -> int:
        response = seeded.post(f"{THREAD}/versions", json={"narrative": "Nothing new [1]."})
        assert response.status_code == 201, response.text
        return int(response.json()["number"])

    with ThreadPoolExecutor(2) as pool:
        numbers = sorted(pool.map(publish, range(2)))
    assert numbers == [7, 8]


def test_generated_digest(seeded):  # type: ignore[no-untyped-def]
    thread_id = seeded.get(THREAD).json()["id"]
    source = post(seeded, "/sources", {"title": "Fresh result on grokking"})
    loose = post(seeded, "/sources", {"title": "Unrelated note"})
    for s in (source, loose):
        post(seeded, f"/threads/{thread_id}/items", {"source_id": s["id"]})
    post(
        seeded,
        "/edges",
        {
            "from_type": "source",
            "from_id": source["id"],
            "relation": "addresses",
            "to_type": "problem",
            "to_id": 1,
        },
    )
    tension = seeded.get(f"{API}/tensions/memorization-necessity").json()
    seeded.patch(
        f"{API}/tensions/{tension['id']}",
        json={"source_ids": [*tension["source_ids"], source["id"]]},
    )
    perspective = seeded.get(f"{API}/perspectives").json()["items"][0]
    seeded.patch(
        f"{API}/perspectives/{perspective['id']}",
        json={
            "evolution": [
                *perspective["evolution"],
                {"version": 7, "kind": "shifted", "note": "answers a critic"},
            ]
        },
    )
    claim = post(seeded, "/claims", {"text": "Grokking needs weight decay", "kind": "empirical"})
    post(
        seeded,
        "/evidence",
        {"claim_id": claim["id"], "source_id": source["id"], "relation": "supports"},
    )
    published = seeded.post(f"{THREAD}/versions", json={})
    assert published.status_code == 201 and published.json()["generated"] is True
    document = seeded.get(f"{THREAD}/versions/7").json()
    text = document["narrative"]["text"]
    assert "- supports: Grokking needs weight decay [75]" in text.splitlines()
    assert document["narrative"]["generated"] is True
    problem = seeded.get(f"{API}/problems/1").json()["title"]
    lines = text.splitlines()
    for heading in (f"Problem: {problem}:", f"Tension: {tension['title']}:"):
        assert lines[lines.index(heading) + 1] == "- Fresh result on grokking [75]"
    not_tied = lines.index("Not yet tied to a problem or tension:")
    assert lines[not_tied + 1] == "- Unrelated note [76]"
    assert f"- {perspective['label']}: shifted (answers a critic)" in lines
    shown = next(p for p in document["perspectives"] if p["id"] == perspective["id"])
    assert shown["evolution"] == {"kind": "shifted", "note": "answers a critic"}


def test_feed_and_changes(seeded):  # type: ignore[no-untyped-def]
    seeded.post(f"{THREAD}/versions", json={"narrative": "Short [2]."})
    feed = seeded.get(f"{THREAD}/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(feed.content)
    assert not parsed.bozo and [e.title.split(" ·")[0] for e in parsed.entries] == [
        "Version 6",
        "Version 7",
    ]
    changes = seeded.get(f"{THREAD}/changes", params={"since": "2026-01-01T00:00:00Z"}).json()
    assert len(changes["sources_added"]) == 74 and "tension_status_changes" in changes
    later = seeded.get(f"{THREAD}/changes", params={"since": "2026-05-01T00:00:00Z"}).json()
    assert later["sources_added"] == [] and later["timeline_added"] == []
    assert seeded.get(f"{THREAD}/changes", params={"since": "not a date"}).status_code == 422


def test_timeline_precision_sorting(client):  # type: ignore[no-untyped-def]
    thread = post(client, "/threads", {"title": "Order"})
    for date in ("2019-06-01", "2019", "2018-12", "2019-06"):
        post(client, "/events", {"date": date, "text": f"event {date}", "thread_id": thread["id"]})
    assert client.post(f"{API}/threads/{thread['id']}/versions", json={}).status_code == 201
    document = json.loads(client.get(f"{API}/threads/{thread['id']}/versions/1").content)
    assert [e["date"] for e in document["timeline"]] == ["2018-12", "2019", "2019-06", "2019-06-01"]


def test_numbers_are_never_reused_and_items_agree(seeded):  # type: ignore[no-untyped-def]
    thread_id = seeded.get(THREAD).json()["id"]
    first = post(seeded, "/sources", {"title": "Doomed paper"})
    post(seeded, f"/threads/{thread_id}/items", {"source_id": first["id"]})
    copy = post(
        seeded, "/sources", {"title": "Another copy of listing 16", "arxiv": "1902.04742v9"}
    )
    item = post(seeded, f"/threads/{thread_id}/items", {"source_id": copy["id"]})
    assert item["citation_number"] == 16  # a copy takes its work's number
    assert seeded.post(f"{THREAD}/versions", json={"narrative": "Doomed [75]."}).status_code == 201
    assert (
        seeded.delete(f"{API}/works/{first['work_id']}", params={"cascade": True}).status_code
        == 204
    )
    fresh = post(seeded, "/sources", {"title": "Brand new"})
    item = post(seeded, f"/threads/{thread_id}/items", {"source_id": fresh["id"]})
    assert item["citation_number"] == 76  # 75 stays retired
    published = seeded.post(f"{THREAD}/versions", json={"narrative": "New [76]; old [75]."})
    assert published.status_code == 422 and published.json()["error"]["details"]["unresolved"] == [
        75
    ]
    assert seeded.post(f"{THREAD}/versions", json={"narrative": "New [76]."}).status_code == 201
    listed = {
        i["source_id"]: i["citation_number"]
        for i in seeded.get(f"{API}/threads/{thread_id}/items", params={"limit": 500}).json()[
            "items"
        ]
    }
    document = seeded.get(f"{THREAD}/versions/8").json()
    numbers = {c["source_id"]: s["number"] for s in document["sources"] for c in s["copies"]}
    assert listed[fresh["id"]] == numbers[fresh["id"]] == 76


def test_diff_across_versions_merges_and_evidence(seeded):  # type: ignore[no-untyped-def]
    perspective = seeded.get(f"{API}/perspectives").json()["items"][0]
    seeded.patch(
        f"{API}/perspectives/{perspective['id']}",
        json={
            "evolution": [
                *perspective["evolution"],
                {"version": 7, "kind": "shifted", "note": "moved"},
            ]
        },
    )
    assert seeded.post(f"{THREAD}/versions", json={"narrative": "v7 [1]."}).status_code == 201
    source = seeded.get(f"{API}/threads/deep-learning-theory-broken/items").json()["items"][0]
    claim = post(seeded, "/claims", {"text": "A claim from a thread source", "kind": "empirical"})
    evidence = post(
        seeded,
        "/evidence",
        {"claim_id": claim["id"], "source_id": source["source_id"], "relation": "supports"},
    )
    # Evidence from a source outside the thread is not the thread's: it cannot be cited
    # there, and stays out of the version.
    outside = post(seeded, "/sources", {"title": "A paper no thread lists"})
    post(
        seeded,
        "/evidence",
        {"claim_id": claim["id"], "source_id": outside["id"], "relation": "contests"},
    )
    listings = {
        i["citation_number"]: i["source_id"]
        for i in seeded.get(
            f"{API}/threads/deep-learning-theory-broken/items", params={"limit": 500}
        ).json()["items"]
    }
    works = [seeded.get(f"{API}/sources/{listings[n]}").json()["work_id"] for n in (9, 10)]
    merged = seeded.post(f"{API}/works/merge", json={"work_ids": works, "into": works[0]})
    assert merged.status_code == 200
    assert seeded.post(f"{THREAD}/versions", json={"narrative": "v8 [1]."}).status_code == 201
    diff = seeded.get(f"{THREAD}/versions/6/diff/8").json()
    change = next(p for p in diff["perspectives"] if p["id"] == perspective["id"])
    assert change["change"] == "shifted"  # from version 7, seen across 6 → 8
    assert [c["id"] for c in diff["claims_added"]] == [claim["id"]]
    assert [e["id"] for e in diff["evidence_added"]] == [evidence["id"]]
    document = seeded.get(f"{THREAD}/versions/8").json()
    assert [e["id"] for e in document["evidence"] if e["claim_id"] == claim["id"]] == [
        evidence["id"]
    ]
    # No run is endorsed here: every piece of evidence comes from a source the thread cites.
    assert all(e["citation"] is not None for e in document["evidence"])
    assert diff["sources_removed"] == [] and diff["sources_merged"] == [{"number": 10, "into": 9}]
    assert seeded.get(f"{THREAD}/versions/8/diff/6").status_code == 422
    assert seeded.get(f"{THREAD}/versions/6/diff/6").status_code == 422


def test_narrative_and_time_checks(seeded):  # type: ignore[no-untyped-def]
    for narrative, unresolved in (
        ("See [01].", "01"),
        ("See [1234567890123].", 1234567890123),
        ("See [0].", 0),
    ):
        response = seeded.post(f"{THREAD}/versions", json={"narrative": narrative})
        assert response.status_code == 422
        assert response.json()["error"]["details"]["unresolved"] == [unresolved]
    assert seeded.post(f"{THREAD}/versions", json={"narrative": "   "}).status_code == 422
    early = seeded.post(
        f"{THREAD}/versions", json={"narrative": "x [1].", "published_at": "2026-01-01T00:00:00Z"}
    )
    assert early.status_code == 422 and early.json()["error"]["field"] == "published_at"
    late = seeded.post(
        f"{THREAD}/versions", json={"narrative": "x [1].", "published_at": "2099-01-01T00:00:00Z"}
    )
    assert late.status_code == 422
    thread_id = seeded.get(THREAD).json()["id"]
    refused = seeded.delete(f"{API}/threads/{thread_id}", params={"cascade": True})
    assert refused.status_code == 409 and "immutable" in refused.json()["error"]["message"]
    assert seeded.get(f"{THREAD}/versions/6").status_code == 200


def test_many_concurrent_publishes(seeded):  # type: ignore[no-untyped-def]
    def publish(_i: int) -> int:
        response = seeded.post(f"{THREAD}/versions", json={"narrative": "Again [2]."})
        assert response.status_code == 201, response.text
        return int(response.json()["number"])

    with ThreadPoolExecutor(8) as pool:
        numbers = sorted(pool.map(publish, range(8)))
    assert numbers == list(range(7, 15))
