"""Dated history: source corrections, claim status changes, tension status changes."""

from tests.helpers import API, make_graph, post, snapshot


def test_source_corrections_are_kept(client):  # type: ignore[no-untyped-def]
    g = make_graph(client)
    sid = g["source"]
    r = client.patch(
        f"{API}/sources/{sid}",
        json={
            "venue": "NeurIPS 2025 (poster)",
            "change_reason": "first listing",
            "changed_by": "ann",
        },
    )
    assert r.status_code == 200
    r = client.patch(
        f"{API}/sources/{sid}",
        json={
            "venue": "NeurIPS 2025 (oral)",
            "date": "2019-06-14",
            "change_reason": "oral, per site",
        },
    )
    assert r.json()["venue"] == "NeurIPS 2025 (oral)"
    assert r.json()["date"] == "2019-06-14" and r.json()["date_precision"] == "day"
    history = client.get(f"{API}/sources/{sid}/history").json()
    assert [(h["field"], h["old_value"], h["new_value"]) for h in history] == [
        ("venue", None, "NeurIPS 2025 (poster)"),
        ("date", "2019-06", "2019-06-14"),
        ("venue", "NeurIPS 2025 (poster)", "NeurIPS 2025 (oral)"),
    ]
    assert history[0]["changed_by"] == "ann" and history[2]["reason"] == "oral, per site"
    # An update that changes nothing adds nothing.
    client.patch(f"{API}/sources/{sid}", json={"venue": "NeurIPS 2025 (oral)"})
    assert len(client.get(f"{API}/sources/{sid}/history").json()) == 3


def test_claim_status_history(client):  # type: ignore[no-untyped-def]
    claim = post(client, "/claims", {"text": "x", "kind": "empirical"})
    r = client.patch(
        f"{API}/claims/{claim['id']}",
        json={"status": "contested", "status_reason": "new paper", "changed_by": "bo"},
    )
    client.patch(f"{API}/claims/{claim['id']}", json={"status": "refuted"})
    history = client.get(f"{API}/claims/{claim['id']}").json()["status_history"]
    assert r.status_code == 200
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "open"),
        ("open", "contested"),
        ("contested", "refuted"),
    ]
    assert history[1]["reason"] == "new paper" and history[1]["changed_by"] == "bo"
    same = client.patch(
        f"{API}/claims/{claim['id']}", json={"status": "refuted", "status_reason": "again"}
    )
    assert same.status_code == 422 and same.json()["error"]["field"] == "status_reason"


def test_claim_created_with_a_status_starts_its_history(client):  # type: ignore[no-untyped-def]
    claim = post(client, "/claims", {"text": "y", "kind": "position", "status": "contested"})
    assert [(h["from_status"], h["to_status"]) for h in claim["status_history"]] == [
        (None, "contested")
    ]


def test_tension_status_change_records_who_when_why(client):  # type: ignore[no-untyped-def]
    g = make_graph(client)
    url = f"{API}/tensions/{g['tension']}/status"
    r = client.post(
        url,
        json={
            "status": "narrowing",
            "reason": "a replication",
            "source_ids": [g["source"]],
            "changed_by": "carol",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "narrowing"
    assert [(h["from_status"], h["to_status"]) for h in body["status_history"]] == [
        (None, "open"),
        ("open", "narrowing"),
    ]
    last = body["status_history"][-1]
    assert last["changed_by"] == "carol" and last["source_ids"] == [g["source"]]
    assert last["reason"] == "a replication"
    bad = client.post(url, json={"status": "solved", "reason": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"
    missing_reason = client.post(url, json={"status": "open"})
    assert missing_reason.status_code == 422


def test_tension_history_cannot_be_back_dated_or_future_dated(client, session_factory):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta, timezone

    g = make_graph(client)
    url = f"{API}/tensions/{g['tension']}/status"
    before = snapshot(session_factory)
    for when in (
        "2001-01-01T00:00:00Z",
        (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
    ):
        r = client.post(url, json={"status": "narrowing", "reason": "x", "changed_at": when})
        assert r.status_code == 422, (when, r.text)
        assert r.json()["error"]["field"] == "changed_at"
    assert snapshot(session_factory) == before
    assert client.get(f"{API}/tensions").status_code == 200
    # An offset is kept as the same instant, shown in UTC.
    now = (datetime.now(timezone(timedelta(hours=5))) + timedelta(seconds=2)).replace(microsecond=0)
    r = client.post(url, json={"status": "narrowing", "reason": "x", "changed_at": now.isoformat()})
    assert r.status_code == 200, r.text
    shown = datetime.fromisoformat(r.json()["status_history"][-1]["changed_at"])
    assert shown == now and shown.utcoffset() == timedelta(0)


def test_thread_items_numbering(client):  # type: ignore[no-untyped-def]
    g = make_graph(client)
    other = post(client, "/sources", {"title": "other"})
    first = post(client, f"/threads/{g['thread']}/items", {"source_id": g["source"]})
    second = post(client, f"/threads/{g['thread']}/items", {"source_id": other["id"]})
    assert (first["citation_number"], second["citation_number"]) == (1, 2)
    assert first["found_via"] == "manual"
    dup = client.post(f"{API}/threads/{g['thread']}/items", json={"source_id": other["id"]})
    assert dup.status_code == 409
    items = client.get(f"{API}/threads/{g['thread']}/items").json()
    assert [i["source_id"] for i in items["items"]] == [g["source"], other["id"]]
    assert client.get(f"{API}/sources", params={"thread_id": g["thread"]}).json()["total"] == 2
    assert client.delete(f"{API}/threads/{g['thread']}/items/{other['id']}").status_code == 204
    assert client.delete(f"{API}/threads/{g['thread']}/items/{other['id']}").status_code == 404


def test_filters(client):  # type: ignore[no-untyped-def]
    make_graph(client)
    post(client, "/sources", {"title": "old", "year": 1968, "kind": "paper", "tags": ["VC"]})
    post(client, "/sources", {"title": "blog", "date": "2022-07-30", "kind": "blog_post"})
    assert client.get(f"{API}/sources", params={"year_to": 1999}).json()["total"] == 1
    assert client.get(f"{API}/sources", params={"year_from": 2020}).json()["total"] == 1
    assert (
        client.get(f"{API}/sources", params={"kind": "blog_post"}).json()["items"][0]["title"]
        == "blog"
    )
    assert client.get(f"{API}/sources", params={"tag": "vc"}).json()["total"] == 1
    assert client.get(f"{API}/sources", params={"arxiv": "1906.05271"}).json()["total"] == 1
    assert (
        client.get(
            f"{API}/sources", params={"doi": "https://doi.org/10.1145/3357713.3384290"}
        ).json()["total"]
        == 1
    )
    dated = client.get(f"{API}/sources", params={"sort": "date"}).json()["items"]
    assert [s["title"] for s in dated][:1] == ["old"]
