"""The seed debate: what it holds, and that loading it twice changes nothing."""

from collections import Counter

from app.core.config import Settings
from app.services.seed import load_seed
from tests.helpers import API, snapshot

EXPERIMENTS = {
    "random_labels",
    "double_descent",
    "benign_overfitting",
    "implicit_bias",
    "lazy_vs_rich",
    "scaling_law",
    "emergence_mirage",
    "grokking",
    "uniform_convergence_failure",
    "memorization_long_tail",
    "pac_bayes_bound",
    "complexity_measures",
    "dynamical_decoupling",
    "uniform_convergence_gap",
}


def _all(client, path, **params):  # type: ignore[no-untyped-def]
    return client.get(f"{API}{path}", params={"limit": 500, **params}).json()["items"]


def _listing_sources(client):  # type: ignore[no-untyped-def]
    thread = _all(client, "/threads")[0]
    items = _all(client, f"/threads/{thread['id']}/items")
    sources = {s["id"]: s for s in _all(client, "/sources")}
    return {i["citation_number"]: sources[i["source_id"]] for i in items}


def test_problems_perspectives_tensions_events(seeded):  # type: ignore[no-untyped-def]
    problems = _all(seeded, "/problems")
    assert len(problems) == 7
    assert [p["number"] for p in problems] == list(range(1, 8))
    for p in problems:
        facets = p["facets"]
        assert facets["known"] and facets["partial"] and facets["unknown"], p["slug"]
        assert p["actor_ids"], f"nobody works on {p['slug']}"
    perspectives = _all(seeded, "/perspectives")
    assert len(perspectives) == 11
    assert all(any(e["version"] == 6 for e in p["evolution"]) for p in perspectives)
    tensions = seeded.get(f"{API}/tensions", params={"status": "open"}).json()["items"]
    assert len(tensions) == 7
    assert all(len(t["sides"]) >= 2 and t["source_ids"] for t in tensions)
    events = _all(seeded, "/events")
    assert len(events) == 20
    assert Counter(e["date_precision"] for e in events) == {"year": 13, "month": 1, "day": 6}
    feldman = [e for e in events if e["date_precision"] == "month"]
    assert feldman[0]["date"] == "2019-06"


def test_claims_have_evidence_and_experiments(seeded):  # type: ignore[no-untyped-def]
    claims = _all(seeded, "/claims")
    assert len(claims) >= 40
    evidence = _all(seeded, "/evidence")
    with_evidence = {e["claim_id"] for e in evidence}
    assert {c["id"] for c in claims} <= with_evidence
    per_experiment = Counter(c["experiment"] for c in claims if c["experiment"])
    assert per_experiment == dict.fromkeys(EXPERIMENTS, 1)
    assert all(c["problem_id"] for c in claims)


def test_history_listings_and_works(seeded):  # type: ignore[no-untyped-def]
    listings = _listing_sources(seeded)
    assert sorted(listings) == list(range(1, 75))
    assert all(s["raw_title"] and s["work_id"] for s in listings.values())

    def same_work(*numbers: int) -> bool:
        return len({listings[n]["work_id"] for n in numbers}) == 1

    assert same_work(16, 17, 69, 70)  # Nagarajan–Kolter
    assert same_work(1, 29) and same_work(2, 30) and same_work(3, 32)
    assert same_work(4, 21, 22, 34, 35, 41, 42, 43)  # Montanari–Urbani
    assert same_work(44, 47, 48, 52, 71)  # Feldman
    assert not same_work(1, 2)
    assert listings[16]["arxiv"] == "1902.04742v2" and listings[17]["arxiv"] == "1902.04742"
    assert listings[15]["date"] == "2021-03" and listings[15]["date_precision"] == "month"
    assert listings[1]["date"] == "2026-04-27"


def test_seed_documents_are_sources(seeded):  # type: ignore[no-untyped-def]
    documents = seeded.get(f"{API}/sources", params={"tag": "seed-document"}).json()
    assert documents["total"] == 3


def test_seed_is_idempotent(seeded, session_factory):  # type: ignore[no-untyped-def]
    before = snapshot(session_factory)
    with session_factory() as session:
        report = load_seed(session, Settings().seeds_dir)
        session.commit()
    assert report == {}
    assert snapshot(session_factory) == before


def test_seed_restores_an_edited_row(seeded, session_factory):  # type: ignore[no-untyped-def]
    problem = _all(seeded, "/problems")[0]
    seeded.patch(f"{API}/problems/{problem['id']}", json={"title": "changed"})
    with session_factory() as session:
        report = load_seed(session, Settings().seeds_dir)
        session.commit()
    assert report == {"problems": {"created": 0, "updated": 1}}
    assert seeded.get(f"{API}/problems/{problem['id']}").json()["title"] == problem["title"]


def test_seed_records_the_poster_to_oral_correction(seeded):  # type: ignore[no-untyped-def]
    oral = _listing_sources(seeded)[4]
    assert oral["venue"] == "NeurIPS 2025 (oral)"
    history = seeded.get(f"{API}/sources/{oral['id']}/history").json()
    assert [(h["field"], h["old_value"], h["new_value"]) for h in history] == [
        ("venue", "NeurIPS 2025 (poster)", "NeurIPS 2025 (oral)")
    ]


def test_cli_upgrade_and_seed_twice(tmp_path):  # type: ignore[no-untyped-def]
    """The commands the README and the image run: migrate, seed, seed again."""
    import os
    import subprocess
    import sys

    from tests.conftest import make_database

    settings, drop = make_database(tmp_path)
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    atlas = [sys.executable, "-m", "app.cli"]
    try:
        for args in (["db", "upgrade"], ["seed"]):
            subprocess.run([*atlas, *args], env=env, check=True, capture_output=True, timeout=120)
        again = subprocess.run(
            [*atlas, "seed"], env=env, check=True, capture_output=True, text=True, timeout=120
        )
        assert "nothing changed" in again.stdout
    finally:
        drop()
