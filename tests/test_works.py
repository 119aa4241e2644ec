"""Merging works, splitting them, and dismissing suggestions, losing nothing."""

from tests.helpers import API, post


def _source(client, title: str) -> dict:  # type: ignore[no-untyped-def]
    return post(client, "/sources", {"title": title})


def test_merge_moves_copies_edges_and_keeps_evidence(client):  # type: ignore[no-untyped-def]
    a, b, c = (_source(client, t) for t in ("Same paper", "Same paper", "Same paper (PDF)"))
    problem = post(client, "/problems", {"title": "p"})
    claim = post(client, "/claims", {"text": "c", "kind": "empirical"})
    evidence = post(
        client, "/evidence", {"claim_id": claim["id"], "source_id": b["id"], "relation": "supports"}
    )
    edge = post(
        client,
        "/edges",
        {
            "from_type": "work",
            "from_id": b["work_id"],
            "relation": "addresses",
            "to_type": "problem",
            "to_id": problem["id"],
        },
    )
    twin = post(
        client,
        "/edges",
        {
            "from_type": "work",
            "from_id": a["work_id"],
            "relation": "addresses",
            "to_type": "problem",
            "to_id": problem["id"],
        },
    )
    suggested = client.get(f"{API}/works/suggestions", params={"work_id": a["work_id"]}).json()
    assert set(suggested[0]["work_ids"]) >= {a["work_id"], b["work_id"]}

    merged = client.post(
        f"{API}/works/merge",
        json={"work_ids": [a["work_id"], b["work_id"], c["work_id"]], "into": a["work_id"]},
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["work"]["source_ids"] == sorted([a["id"], b["id"], c["id"]])
    assert body["moved_sources"] == 2
    for gone in (b["work_id"], c["work_id"]):
        assert client.get(f"{API}/works/{gone}").status_code == 404
    # b's edge duplicated a's, so it folded into it; nothing points at a deleted work.
    assert client.get(f"{API}/edges/{twin['id']}").status_code == 200
    assert client.get(f"{API}/edges/{edge['id']}").status_code == 404
    assert client.get(f"{API}/evidence/{evidence['id']}").json()["source_id"] == b["id"]
    hood = client.get(f"{API}/graph/nodes/work:{a['work_id']}/neighbourhood").json()
    assert {f"source:{s['id']}" for s in (a, b, c)} <= {n["id"] for n in hood["nodes"]}
    assert client.get(f"{API}/works/suggestions", params={"work_id": a["work_id"]}).json() == []

    split = client.post(f"{API}/works/{a['work_id']}/split", json={"source_ids": [c["id"]]})
    assert split.status_code == 201
    assert split.json()["source_ids"] == [c["id"]]
    assert client.get(f"{API}/sources/{c['id']}").json()["work_id"] == split.json()["id"]
    assert client.get(f"{API}/works/{a['work_id']}").json()["source_ids"] == sorted(
        [a["id"], b["id"]]
    )


def test_merge_and_split_refuse_bad_requests(client):  # type: ignore[no-untyped-def]
    a, b = _source(client, "x one"), _source(client, "y two")
    for body, field in (
        ({"work_ids": [a["work_id"]]}, "work_ids"),
        ({"work_ids": [a["work_id"], a["work_id"]]}, "work_ids"),
        ({"work_ids": [a["work_id"], 999999]}, "work_ids.1"),
        ({"work_ids": [a["work_id"], b["work_id"]], "into": 5}, "into"),
    ):
        response = client.post(f"{API}/works/merge", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field
    whole = client.post(f"{API}/works/{a['work_id']}/split", json={"source_ids": [a["id"]]})
    assert whole.status_code == 422
    stranger = client.post(f"{API}/works/{a['work_id']}/split", json={"source_ids": [b["id"]]})
    assert stranger.status_code == 422


def test_dismissed_pairs_are_not_offered_again(client):  # type: ignore[no-untyped-def]
    a = _source(client, "Is memorization actually necessary for generalization")
    b = _source(client, "Is Memorization Actually Necessary for Generalization?")
    pair = sorted([a["work_id"], b["work_id"]])
    assert client.get(f"{API}/works/suggestions").json()[0]["work_ids"] == pair
    assert (
        client.post(f"{API}/works/suggestions/dismiss", json={"work_ids": pair}).status_code == 204
    )
    assert client.get(f"{API}/works/suggestions").json() == []
