"""All fourteen experiments through the API on the seed debate: each quick run reproduces,
its endorsement becomes `replicates` evidence on the seeded claim it tests, and the
open-tensions view shows it on the side whose claim it supports. Runs once (SQLite pass)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.services.seed import load_seed
from tests.helpers import API, AUTH
from tests.test_runs import submit, wait_for

FOURTEEN = [
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
]
# Tension sides (by tension slug) whose claims the seed ties to an experiment.
SIDES = {
    "memorization-necessity": {"memorization_long_tail"},
    "exact-gap-extension": {"uniform_convergence_gap", "uniform_convergence_failure"},
    "decoupling-beyond-two-layers": {"dynamical_decoupling"},
    "pac-bayes-escape-hatch": {"uniform_convergence_gap", "pac_bayes_bound"},
    "benign-overfitting-breadth": {"benign_overfitting"},
}


@pytest.fixture
def two_workers(db_settings: Settings, session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        load_seed(session, Settings().seeds_dir)
        session.commit()
    settings = db_settings.model_copy(update={"job_workers": 2})
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


@pytest.mark.once
def test_every_endorsed_experiment_is_evidence_on_its_claim_and_its_tension_side(
    two_workers: TestClient,
) -> None:
    client = two_workers
    catalogue = {e["name"]: e for e in client.get(f"{API}/experiments").json()}
    assert set(catalogue) == set(FOURTEEN)
    started = {name: submit(client, {"preset": "quick", "seed": 0}, name=name) for name in FOURTEEN}
    endorsed: dict[str, dict[str, Any]] = {}
    for name, run in started.items():
        done = wait_for(client, run["id"], {"succeeded", "failed"}, timeout=300)
        assert done["verdict"] == "reproduced", (name, done["checks"], done["error"])
        claim_id = catalogue[name]["claim"]["id"]
        assert done["claim_id"] == claim_id
        response = client.post(f"{API}/runs/{run['id']}/endorse", json={"recorded_by": "test"})
        assert response.status_code == 201, response.text
        evidence = response.json()
        assert (evidence["claim_id"], evidence["relation"]) == (claim_id, "replicates")
        claim_evidence = client.get(f"{API}/evidence", params={"claim_id": claim_id}).json()
        assert evidence["id"] in {e["id"] for e in claim_evidence["items"]}
        endorsed[name] = {"run": done, "evidence": evidence}

    for slug, expected in SIDES.items():
        tension = client.get(f"{API}/tensions/{slug}").json()
        shown = {
            r["experiment"]: (side["label"], r)
            for side in tension["sides"]
            for r in side["experiment_runs"]
        }
        assert set(shown) == expected, slug
        for name in expected:
            label, row = shown[name]
            side = next(s for s in tension["sides"] if s["label"] == label)
            assert endorsed[name]["run"]["claim_id"] in side["claim_ids"], (slug, label)
            assert row["run_id"] == endorsed[name]["run"]["id"]
            assert row["relation"] == "replicates"

    open_view = client.get(f"{API}/tensions", params={"status": "open", "limit": 100}).json()
    on_open_sides = {
        r["experiment"]
        for t in open_view["items"]
        for s in t["sides"]
        for r in s["experiment_runs"]
    }
    open_slugs = {t["slug"] for t in open_view["items"]}
    assert on_open_sides == set().union(*(SIDES[s] for s in SIDES if s in open_slugs))
    assert on_open_sides, "the seed has open tensions with experiment-backed claims"
