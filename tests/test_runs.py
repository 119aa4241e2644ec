"""Experiment runs as jobs: the catalogue, submitting, progress, results and plots, the
cache, endorsement as evidence, cancelling, the bounded queue, faults and restarts.

Runs here use tiny parameters of the cheap scaling-law experiment: these tests check the
engine, not the science (tests/experiments/ checks each experiment's signature).
"""

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.jobs import store
from app.jobs.execute import execute
from app.main import create_app
from app.models import Evidence, ExperimentRun
from app.models.run import RunStatus
from tests.helpers import API, AUTH, snapshot
from tests.servers import api_server

SEVEN = {
    "random_labels",
    "double_descent",
    "benign_overfitting",
    "implicit_bias",
    "lazy_vs_rich",
    "scaling_law",
    "emergence_mirage",
}
# About a second of real training.
TINY = {
    "n_features": 512,
    "n_min": 16,
    "n_max": 128,
    "n_points": 4,
    "data_draws": 1,
    "teachers": 4,
}


def submit(client: Any, body: dict[str, Any], status: int = 202, name: str = "scaling_law"):  # type: ignore[no-untyped-def]
    response = client.post(f"{API}/experiments/{name}/runs", json=body)
    assert response.status_code == status, response.text
    return response.json()


def wait_for(client: Any, run_id: int, statuses: set[str], timeout: float = 120) -> dict:
    """Polls the run until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"{API}/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}: {run}"
        time.sleep(0.2)


def count_runs(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count(ExperimentRun.id))) or 0


def test_catalogue_links_each_experiment_to_its_seeded_claim(seeded: TestClient) -> None:
    catalogue = seeded.get(f"{API}/experiments").json()
    by_name = {e["name"]: e for e in catalogue}
    assert set(by_name) >= SEVEN
    for name in SEVEN:
        entry = by_name[name]
        assert entry["claim"] is not None, name
        claim = seeded.get(f"{API}/claims/{entry['claim']['id']}").json()
        assert claim["experiment"] == name
        assert entry["claim"]["sources"], f"{name}: the claim's sources are listed"
        assert entry["signature"] and entry["control"] and entry["description"]
        assert set(entry["presets"]) == {"quick", "full", "control"}
        assert entry["presets"]["full"] != entry["presets"]["quick"], name
        schema = entry["params_schema"]
        assert set(schema["properties"]) == set(entry["presets"]["quick"]), name
    one = seeded.get(f"{API}/experiments/random_labels").json()
    assert one == by_name["random_labels"]
    missing = seeded.get(f"{API}/experiments/no_such_thing")
    assert missing.status_code == 404
    assert "random_labels" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("random_labels", {"hidden_width": 10**7}, "params.hidden_width"),
        ("random_labels", {"n_train": 1500, "n_test": 797}, "params.n_test"),
        ("double_descent", {"noise_std": -0.1}, "params.noise_std"),
        ("scaling_law", {"no_such_param": 1}, "params.no_such_param"),
        ("scaling_law", {"n_max": "many"}, "params.n_max"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(
    client: TestClient, session_factory, name: str, params: dict, field: str
) -> None:
    before = snapshot(session_factory)
    body = submit(client, {"preset": "quick", "params": params}, status=422, name=name)
    assert body["error"]["field"] == field, body
    assert snapshot(session_factory) == before


def test_bad_request_bodies(client: TestClient) -> None:
    for body in ({"preset": "huge"}, {"seed": -1}, {"seed": 2**40}, {"params": []}, {"x": 1}):
        response = client.post(f"{API}/experiments/scaling_law/runs", json=body)
        assert response.status_code == 422, (body, response.text)
    assert client.post(f"{API}/experiments/nope/runs", json={}).status_code == 404
    assert client.get(f"{API}/runs/999").status_code == 404
    assert client.get(f"{API}/runs/999/plot.png").status_code == 404


def test_a_run_trains_reports_progress_and_is_answered_from_the_cache(
    client: TestClient, session_factory
) -> None:
    queued = submit(client, {"preset": "quick", "seed": 3, "params": TINY})
    assert queued["status"] in ("queued", "running")
    assert queued["provenance"]["params"]["n_features"] == 512
    run = wait_for(client, queued["id"], {"succeeded", "failed"})
    assert run["status"] == "succeeded", run
    assert run["progress"] == {"fraction": 1.0, "message": "finished"}
    assert run["verdict"] in ("reproduced", "not_reproduced")
    assert {"fitted_exponent_alpha_1", "fitted_exponent_alpha_0.5"} <= set(run["metrics"])
    assert all(c["value"] is not None for c in run["checks"])
    assert run["series"], "the series behind the plot"
    prov = run["provenance"]
    assert prov["seed"] == 3 and prov["attempts"] == 1 and prov["duration_s"] > 0
    assert {"numpy", "scipy", "scikit-learn", "python"} <= set(prov["libraries"])
    assert prov["code_version"].startswith("0.1.0+")
    assert run["registered"] is False  # custom parameters

    png = client.get(f"{API}/runs/{run['id']}/plot.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = client.get(f"{API}/runs/{run['id']}/plot.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert client.get(f"{API}/runs/{run['id']}/plot.svg").content == svg.content

    again = submit(client, {"preset": "quick", "seed": 3, "params": TINY}, status=200)
    assert again["id"] == run["id"] and count_runs(session_factory) == 1
    other_seed = submit(client, {"preset": "quick", "seed": 4, "params": TINY})
    assert other_seed["id"] != run["id"]
    client.post(f"{API}/runs/{other_seed['id']}/cancel")

    page = client.get(f"/runs/{run['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "quick preset with custom parameters, seed 3" in " ".join(page.text.split())
    assert f"/api/v1/runs/{run['id']}/plot.svg" in page.text
    assert run["verdict"].replace("_", " ") in page.text
    assert prov["code_version"] in page.text
    listed = client.get(f"{API}/runs", params={"experiment": "scaling_law", "seed": 3}).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]] and listed["total"] == 1


def test_progress_moves_while_a_run_trains(client: TestClient) -> None:
    run = submit(client, {"preset": "quick", "seed": 7}, name="random_labels")
    seen: list[tuple[float, str]] = []
    pages: list[str] = []
    deadline = time.monotonic() + 120
    while (now := client.get(f"{API}/runs/{run['id']}").json())["status"] in ("queued", "running"):
        seen.append((now["progress"]["fraction"], now["progress"]["message"]))
        if now["status"] == "running" and not pages:
            pages.append(client.get(f"/runs/{run['id']}").text)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert now["status"] == "succeeded"
    fractions = [f for f, _ in seen if 0 < f < 1]
    assert len(set(fractions)) >= 3, seen
    assert fractions == sorted(fractions), "progress only moves forward"
    assert any("p = 1" in (m or "") for _, m in seen), seen
    assert pages and 'http-equiv="refresh"' in pages[0] and "<progress" in pages[0]
    assert client.get("/runs/999").status_code == 404


def test_endorsing_a_run_makes_it_evidence_on_its_claim(
    seeded: TestClient, session_factory
) -> None:
    claim_id = seeded.get(f"{API}/experiments/scaling_law").json()["claim"]["id"]
    before = seeded.get(f"{API}/claims/{claim_id}").json()
    assert before["runs"]["succeeded"] == 0
    run = wait_for(seeded, submit(seeded, {"params": TINY})["id"], {"succeeded", "failed"})
    assert run["claim_id"] == claim_id

    listed = seeded.get(f"{API}/claims/{claim_id}/runs").json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    tally = seeded.get(f"{API}/claims/{claim_id}").json()["runs"]
    assert tally["succeeded"] == 1 and tally[run["verdict"]] == 1 and tally["endorsed"] == 0

    response = seeded.post(f"{API}/runs/{run['id']}/endorse", json={"recorded_by": "curator"})
    assert response.status_code == 201, response.text
    evidence = response.json()
    expected = "replicates" if run["verdict"] == "reproduced" else "fails_to_replicate"
    assert evidence["relation"] == expected and evidence["run_id"] == run["id"]
    assert evidence["claim_id"] == claim_id and evidence["source_id"] is None
    assert run["provenance"]["code_version"] in evidence["note"]

    after = seeded.get(f"{API}/claims/{claim_id}").json()
    side = "supports" if expected == "replicates" else "contests"
    assert after["evidence_summary"][side] == before["evidence_summary"][side] + 1
    assert after["runs"]["endorsed"] == 1
    rows = seeded.get(f"{API}/evidence", params={"run_id": run["id"]}).json()
    assert [e["id"] for e in rows["items"]] == [evidence["id"]]
    assert seeded.get(f"{API}/runs/{run['id']}").json()["evidence_id"] == evidence["id"]
    hood = seeded.get(f"{API}/graph/nodes/run:{run['id']}/neighbourhood").json()
    assert f"claim:{claim_id}" in {n["id"] for n in hood["nodes"]}
    assert {e["relation"] for e in hood["edges"]} == {expected}

    # Its relation follows the verdict: it cannot be edited into the opposite.
    flip = "contests" if expected == "replicates" else "supports"
    edit = seeded.patch(f"{API}/evidence/{evidence['id']}", json={"relation": flip})
    assert edit.status_code == 422 and edit.json()["error"]["field"] == "relation"
    note = seeded.patch(f"{API}/evidence/{evidence['id']}", json={"note": "Checked the plot."})
    assert note.status_code == 200 and note.json()["relation"] == expected

    twice = seeded.post(f"{API}/runs/{run['id']}/endorse", json={})
    assert twice.status_code == 409
    assert twice.json()["error"]["details"]["existing_id"] == evidence["id"]

    # Withdrawing the endorsement removes the run from the graph again.
    assert seeded.delete(f"{API}/evidence/{evidence['id']}").status_code == 204
    gone = seeded.get(f"{API}/graph/nodes/run:{run['id']}/neighbourhood")
    assert gone.status_code == 404


def test_control_unfinished_and_unlinked_runs_cannot_be_endorsed(
    client: TestClient, session_factory
) -> None:
    control = wait_for(
        client, submit(client, {"preset": "control", "params": TINY})["id"], {"succeeded"}
    )
    response = client.post(f"{API}/runs/{control['id']}/endorse", json={})
    assert response.status_code == 409 and "control" in response.json()["error"]["message"]
    plain = wait_for(client, submit(client, {"params": TINY})["id"], {"succeeded"})
    response = client.post(f"{API}/runs/{plain['id']}/endorse", json={})
    assert response.status_code == 409, "no claim is linked without the seed"
    assert "no claim" in response.json()["error"]["message"]
    with session_factory() as session:
        assert session.scalar(select(func.count(Evidence.id))) == 0


@pytest.fixture
def queue_only(db_settings: Settings, session_factory):  # type: ignore[no-untyped-def]
    """An API that only queues runs (no worker), with room for two."""
    settings = db_settings.model_copy(update={"job_runner": "none", "job_queue_limit": 2})
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def test_a_full_queue_answers_429_with_retry_after(queue_only: TestClient, session_factory):  # type: ignore[no-untyped-def]
    first = submit(queue_only, {"seed": 1, "params": TINY})
    submit(queue_only, {"seed": 2, "params": TINY})
    before = snapshot(session_factory)
    full = queue_only.post(f"{API}/experiments/scaling_law/runs", json={"seed": 3})
    assert full.status_code == 429
    assert int(full.headers["Retry-After"]) > 0
    assert full.json()["error"]["code"] == "queue_full"
    assert snapshot(session_factory) == before
    cancelled = queue_only.post(f"{API}/runs/{first['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert queue_only.post(f"{API}/runs/{first['id']}/cancel").status_code == 409
    assert queue_only.get(f"{API}/runs/{first['id']}/plot.png").status_code == 409
    third = submit(queue_only, {"seed": 3, "params": TINY})  # room again
    queue_only.post(f"{API}/runs/{third['id']}/cancel")
    # A cancelled run is not a cached answer: asking again queues a new one.
    assert submit(queue_only, {"seed": 1, "params": TINY})["id"] not in (first["id"], third["id"])


def test_a_run_that_raises_is_failed_with_its_error(db_settings: Settings, session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as session, session.begin():
        run = _row(experiment="scaling_law", params={**TINY, "n_max": "not a number"})
        session.add(run)
    status = execute(db_settings.database_url, run.id)
    assert status == "failed"
    with session_factory() as session:
        row = session.get(ExperimentRun, run.id)
        assert row is not None and row.status == RunStatus.failed
        assert row.error and "n_max" in row.error and row.finished_at is not None


def _row(**values: Any) -> ExperimentRun:
    defaults: dict[str, Any] = {
        "experiment": "scaling_law",
        "preset": "quick",
        "registered": False,
        "params": TINY,
        "seed": 0,
        "code_version": "test",
        "cache_key": "k" * 64,
        "status": RunStatus.queued,
        "progress": 0.0,
        "attempts": 0,
        "cancel_requested": False,
    }
    return ExperimentRun(**{**defaults, **values})


def test_lost_runs_are_requeued_then_failed_after_their_attempts(
    db_settings: Settings, session_factory
) -> None:
    old = datetime.now(UTC) - timedelta(minutes=10)
    with session_factory() as session, session.begin():
        dead_local = _row(status=RunStatus.running, worker=f"{_host()}:999999", attempts=1)
        silent_remote = _row(status=RunStatus.running, worker="elsewhere:12", heartbeat_at=old)
        exhausted = _row(
            status=RunStatus.running, worker="elsewhere:13", attempts=2, heartbeat_at=old
        )
        fresh_remote = _row(
            status=RunStatus.running, worker="elsewhere:14", heartbeat_at=datetime.now(UTC)
        )
        waiting = _row()
        session.add_all([dead_local, silent_remote, exhausted, fresh_remote, waiting])
    factory = session_factory
    queued = store.recover(factory, stale_after_s=60, max_attempts=2)
    assert sorted(queued) == sorted([waiting.id, dead_local.id, silent_remote.id])
    with session_factory() as session:
        status = {r.id: r for r in session.scalars(select(ExperimentRun))}
    assert status[dead_local.id].status == RunStatus.queued
    assert "stopped while running" in (status[dead_local.id].message or "")
    assert status[exhausted.id].status == RunStatus.failed
    assert "gave up" in (status[exhausted.id].error or "")
    assert status[fresh_remote.id].status == RunStatus.running


def test_a_worker_stops_when_its_run_is_cancelled_or_taken_away(
    db_settings: Settings, session_factory
) -> None:
    with session_factory() as session, session.begin():
        mine = _row(status=RunStatus.running, worker=store.worker_id())
        cancelled = _row(status=RunStatus.running, worker=store.worker_id(), cancel_requested=True)
        taken = _row(status=RunStatus.running, worker="elsewhere:1")
        session.add_all([mine, cancelled, taken])
    assert store.report(session_factory, mine.id, 0.5, "half") is None
    assert store.report(session_factory, cancelled.id, 0.5, "half") == "cancel"
    assert store.report(session_factory, taken.id, 0.5, "half") == "lost"
    with session_factory() as session:
        assert session.get(ExperimentRun, mine.id).progress == 0.5  # type: ignore[union-attr]
        assert session.get(ExperimentRun, taken.id).progress == 0.0  # type: ignore[union-attr]


def test_a_run_over_its_time_limit_is_stopped_and_failed(db_settings: Settings, session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as session, session.begin():
        run = _row()
        session.add(run)
    assert execute(db_settings.database_url, run.id, limit_s=1e-9) == "failed"
    with session_factory() as session:
        row = session.get(ExperimentRun, run.id)
        assert row is not None and "time limit" in (row.error or "")


def _host() -> str:
    import socket

    return socket.gethostname()


@contextmanager
def serving(settings: Settings) -> Iterator[httpx.Client]:
    with (
        api_server(settings.database_url, PLOTS_DIR=str(settings.plots_dir)) as base,
        httpx.Client(base_url=base, timeout=30, headers=AUTH) as http,
    ):
        yield http


def test_restart_resumes_queued_and_interrupted_runs(db_settings: Settings, session_factory):  # type: ignore[no-untyped-def]
    """A server stopped while a full run trains puts it back in the queue; the next server
    picks it up again (and the queued run behind it)."""
    with serving(db_settings) as http:
        long = submit(http, {"preset": "full", "seed": 0}, name="lazy_vs_rich")
        behind = submit(http, {"seed": 5, "params": TINY})
        wait_for(http, long["id"], {"running"}, timeout=60)
    with session_factory() as session:
        row = session.get(ExperimentRun, long["id"])
        assert row is not None and row.status == RunStatus.queued, row.status
        assert "server stopped" in (row.message or "")
    with serving(db_settings) as http:
        resumed = wait_for(http, long["id"], {"running"}, timeout=60)
        assert resumed["provenance"]["attempts"] == 2
        http.post(f"{API}/runs/{long['id']}/cancel")
        assert wait_for(http, long["id"], {"cancelled"})["status"] == "cancelled"
        assert wait_for(http, behind["id"], {"succeeded"})["verdict"]


def test_the_api_answers_while_a_full_run_trains(seeded: TestClient) -> None:
    run = submit(seeded, {"preset": "full", "seed": 0}, name="lazy_vs_rich")
    wait_for(seeded, run["id"], {"running"}, timeout=60)
    problems = seeded.get(f"{API}/problems")
    assert problems.status_code == 200 and problems.json()["total"] == 7
    assert seeded.get(f"{API}/runs/{run['id']}").json()["status"] == "running"
    seeded.post(f"{API}/runs/{run['id']}/cancel")
    cancelled = wait_for(seeded, run["id"], {"cancelled", "succeeded"})
    assert cancelled["status"] == "cancelled" and cancelled["metrics"] is None


def test_auto_endorse_setting(db_settings: Settings, session_factory) -> None:
    from app.services.seed import load_seed

    with session_factory() as session:
        load_seed(session, Settings().seeds_dir)
        session.commit()
    settings = db_settings.model_copy(update={"auto_endorse_presets": True})
    with TestClient(create_app(settings), headers=AUTH) as c:
        custom = wait_for(c, submit(c, {"params": TINY})["id"], {"succeeded"})
        preset = wait_for(c, submit(c, {"preset": "quick", "seed": 0})["id"], {"succeeded"})
        control = wait_for(c, submit(c, {"preset": "control"})["id"], {"succeeded"})
        assert custom["evidence_id"] is None, "custom parameters are never auto-endorsed"
        assert control["evidence_id"] is None, "a control run is not evidence"
        assert preset["registered"] and preset["evidence_id"] is not None
        evidence = c.get(f"{API}/evidence/{preset['evidence_id']}").json()
        assert evidence["recorded_by"] == "auto-endorse" and evidence["run_id"] == preset["id"]


def test_cli_runs_an_experiment_and_writes_its_plot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "plot.png"
    args = ["experiment", "run", "scaling_law", "--seed", "1", "--plot", str(out)]
    for key, value in TINY.items():
        args += ["--param", f"{key}={value}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.output and "fitted_exponent_alpha_1" in result.output
    assert out.read_bytes().startswith(b"\x89PNG")
    bad = CliRunner().invoke(cli, ["experiment", "run", "scaling_law", "--param", "n_max=-1"])
    assert bad.exit_code == 2 and "n_max" in bad.output
    unknown = CliRunner().invoke(cli, ["experiment", "run", "nope"])
    assert unknown.exit_code == 2


def test_a_killed_worker_process_is_noticed_and_its_run_retried(client: TestClient) -> None:
    run = submit(client, {"preset": "full", "seed": 0}, name="lazy_vs_rich")
    running = wait_for(client, run["id"], {"running"}, timeout=60)
    pid = int(running["provenance"]["worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    retried = wait_for_attempt(client, run["id"], 2)
    assert retried["status"] == "running"
    assert retried["provenance"]["worker"] != running["provenance"]["worker"]
    client.post(f"{API}/runs/{run['id']}/cancel")
    assert wait_for(client, run["id"], {"cancelled"})["status"] == "cancelled"


def wait_for_attempt(client: Any, run_id: int, attempt: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"{API}/runs/{run_id}").json()
        if run["provenance"]["attempts"] >= attempt and run["status"] == "running":
            return run
        assert run["status"] in ("queued", "running"), run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


def test_an_endorsed_run_shows_on_the_tension_side_its_claim_sits_on(seeded: TestClient) -> None:
    run = wait_for(seeded, submit(seeded, {}, name="benign_overfitting")["id"], {"succeeded"})
    assert run["verdict"] == "reproduced", run["checks"]
    before = seeded.get(f"{API}/tensions/benign-overfitting-breadth").json()
    evidence = seeded.post(f"{API}/runs/{run['id']}/endorse", json={}).json()
    tension = seeded.get(f"{API}/tensions/benign-overfitting-breadth").json()
    runs_by_side = {side["label"]: side["experiment_runs"] for side in tension["sides"]}
    holding = [label for label, runs in runs_by_side.items() if runs]
    assert len(holding) == 1 and holding[0].startswith("Benign overfitting extends")
    (shown,) = runs_by_side[holding[0]]
    assert shown["run_id"] == run["id"] and shown["evidence_id"] == evidence["id"]
    assert shown["relation"] == "replicates" and shown["experiment"] == "benign_overfitting"
    works = (
        {s["label"]: s["evidence"]["supporting_works"] for s in before["sides"]},
        {s["label"]: s["evidence"]["supporting_works"] for s in tension["sides"]},
    )
    for label in works[0]:  # the experiment counts as one more supporting work, there only
        assert works[1][label] == works[0][label] + (label == holding[0]), label
    open_view = seeded.get(f"{API}/tensions", params={"status": tension["status"]}).json()
    listed = next(t for t in open_view["items"] if t["id"] == tension["id"])
    assert listed["sides"] == tension["sides"]
