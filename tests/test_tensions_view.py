"""Open tensions with the evidence on each side, and the most contested claims."""

import pytest

from tests.helpers import API, post


def test_open_tensions_on_the_seed(seeded):  # type: ignore[no-untyped-def]
    page = seeded.get(f"{API}/tensions", params={"status": "open"}).json()
    assert page["total"] == 7
    for tension in page["items"]:
        assert len(tension["sides"]) >= 2
        assert tension["status_history"] and tension["status_history"][-1]["to_status"] == "open"
        for side in tension["sides"]:
            assert [c["id"] for c in side["claims"]] == side["claim_ids"]
            assert [p["id"] for p in side["perspectives"]] == side["perspective_ids"]
            assert set(side["evidence"]) >= {
                "supports",
                "contests",
                "supporting_works",
                "contesting_works",
            }
    memorization = next(t for t in page["items"] if t["slug"] == "memorization-necessity")
    necessary = memorization["sides"][0]
    assert necessary["evidence"]["supports"] > 0 and necessary["evidence"]["contests"] > 0
    assert necessary["perspectives"]


def _source(client, title: str, work_id: int | None = None) -> int:  # type: ignore[no-untyped-def]
    body = {"title": title} | ({"work_id": work_id} if work_id else {})
    return post(client, "/sources", body)["id"]


def _evidence(client, claim: int, source: int, relation: str) -> None:  # type: ignore[no-untyped-def]
    post(client, "/evidence", {"claim_id": claim, "source_id": source, "relation": relation})


def test_side_counts_and_contested_score_count_works(client):  # type: ignore[no-untyped-def]
    claim = post(client, "/claims", {"text": "c", "kind": "empirical"})["id"]
    calm = post(client, "/claims", {"text": "calm", "kind": "empirical"})["id"]
    first = _source(client, "preprint")
    work = client.get(f"{API}/sources/{first}").json()["work_id"]
    copies = [first, _source(client, "published", work), _source(client, "mirror", work)]
    for s in copies:
        _evidence(client, claim, s, "supports")  # three copies of one work
    _evidence(client, claim, _source(client, "another"), "replicates")
    _evidence(client, claim, _source(client, "critic"), "contests")
    _evidence(client, claim, _source(client, "refiner"), "refines")  # neither side
    _evidence(client, calm, _source(client, "fan"), "supports")

    summary = client.get(f"{API}/claims/{claim}").json()["evidence_summary"]
    assert summary == {
        "supports": 4,
        "contests": 1,
        "supporting_works": 2,
        "contesting_works": 1,
        "score": pytest.approx(2 * 2 * 1 / 3, abs=1e-4),
    }

    tension = post(
        client,
        "/tensions",
        {
            "title": "t",
            "question": "q",
            "sides": [
                {"label": "for", "claim_ids": [claim]},
                {"label": "calm", "claim_ids": [calm]},
            ],
        },
    )
    sides = client.get(f"{API}/tensions/{tension['id']}").json()["sides"]
    assert sides[0]["evidence"]["supporting_works"] == 2
    assert sides[0]["evidence"]["contests"] == 1
    assert sides[1]["evidence"] == {
        "supports": 1,
        "contests": 0,
        "supporting_works": 1,
        "contesting_works": 0,
        "score": 0.0,
    }


def test_most_contested_ranking(client):  # type: ignore[no-untyped-def]
    def claim_with(supporting: int, contesting: int) -> int:
        cid = post(client, "/claims", {"text": f"{supporting}/{contesting}", "kind": "position"})[
            "id"
        ]
        for i in range(supporting):
            _evidence(client, cid, _source(client, f"s{cid}-{i}"), "supports")
        for i in range(contesting):
            _evidence(client, cid, _source(client, f"c{cid}-{i}"), "contests")
        return cid

    balanced = claim_with(3, 3)  # score 3
    lopsided = claim_with(6, 1)  # score 1.71
    rejected = claim_with(0, 4)  # score 0, but contested
    claim_with(5, 0)  # not contested at all: not listed
    ranked = client.get(f"{API}/claims", params={"most_contested": True}).json()
    assert [c["id"] for c in ranked["items"]] == [balanced, lopsided, rejected]
    assert ranked["total"] == 3
    scores = [c["evidence_summary"]["score"] for c in ranked["items"]]
    assert scores == [3.0, pytest.approx(12 / 7, abs=1e-4), 0.0]
    second_page = client.get(
        f"{API}/claims", params={"most_contested": True, "limit": 1, "offset": 1}
    ).json()
    assert [c["id"] for c in second_page["items"]] == [lopsided]


def test_most_contested_on_the_seed(seeded):  # type: ignore[no-untyped-def]
    ranked = seeded.get(f"{API}/claims", params={"most_contested": True, "limit": 5}).json()
    assert ranked["items"]
    top = ranked["items"][0]["evidence_summary"]
    assert top["contesting_works"] >= 1 and top["supporting_works"] >= 1
