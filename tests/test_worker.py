"""Jobs on Dramatiq: an API with JOB_RUNNER=dramatiq enqueues runs in Redis and real
`atlas worker` processes run them. Each test has its own queue, so parallel test runs never
take each other's messages; the tests are skipped when Redis does not answer.

The embedded runner (the default, no Redis) is covered by tests/test_runs.py.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.core.config import PROJECT_ROOT, Settings
from app.core.db import write_intent
from app.jobs.dramatiq_runner import DramatiqRunner
from app.main import create_app
from app.models import ExperimentRun
from app.models.run import RunStatus
from tests.helpers import API, AUTH
from tests.test_runs import TINY, _host, _row, submit, wait_for, wait_for_attempt

REDIS_URL = os.environ.get("ATLAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_answers(), reason=f"no Redis at {REDIS_URL}")


@pytest.fixture
def settings(db_settings: Settings, session_factory) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    """The test database, a queue of its own, and a sweeper that looks every half second."""
    queue = f"atlas-test-{secrets.token_hex(6)}"
    yield db_settings.model_copy(
        update={
            "job_runner": "dramatiq",
            "redis_url": REDIS_URL,
            "dramatiq_queue": queue,
            "job_sweep_every_s": 0.5,
            "job_stale_after_s": 30.0,
            "job_max_attempts": 2,
        }
    )
    client = redis.Redis.from_url(REDIS_URL)
    keys = [
        *client.scan_iter(f"dramatiq:{queue}*"),
        *client.scan_iter(f"dramatiq:__acks__.*{queue}*"),
    ]
    if keys:
        client.delete(*keys)
    client.close()


@contextmanager
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers=AUTH) as client:
        yield client


@contextmanager
def worker(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`atlas worker` in a process group of its own, configured by its environment only."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_QUEUE": settings.dramatiq_queue,
        "ENVIRONMENT": "test",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--shutdown-timeout", "20"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        _signal_group(process, signal.SIGKILL)  # any child left behind
        process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _pid(run: dict[str, Any]) -> int:
    return int(run["provenance"]["worker"].rsplit(":", 1)[1])


def _stops_cleanly(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM to the worker's main process: it stops its children and exits with 0."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not stop on SIGTERM:\n{log.read_text()}")
    assert code == 0, log.read_text()


def test_a_worker_process_runs_a_run_sent_after_its_row_is_committed(
    settings: Settings, session_factory, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    seen: list[Any] = []
    with api(settings) as client:
        runner = client.app.state.runner  # type: ignore[attr-defined]
        send = runner.actor.send

        def spy(run_id: int) -> Any:
            # Another connection, reading (SQLite: a deferred BEGIN): sees committed rows only.
            token = write_intent.set(False)
            try:
                with session_factory() as session:
                    row = session.get(ExperimentRun, run_id)
                    seen.append(None if row is None else row.status.value)
            finally:
                write_intent.reset(token)
            return send(run_id)

        runner.actor.send = spy
        run = submit(client, {"seed": 11, "params": TINY})
        assert seen == ["queued"], "the message is sent once its row is committed"

        # No worker yet: the run waits with one message; sweeps do not add duplicates.
        for _ in range(4):
            runner.sweep()
        assert runner.broker.client.llen(runner.queue_key) == 1
        assert client.get(f"{API}/runs/{run['id']}").json()["status"] == "queued"

        with worker(settings, log) as process:
            done = wait_for(client, run["id"], {"succeeded", "failed"}, timeout=120)
            assert done["status"] == "succeeded", (done, log.read_text())
            assert done["verdict"] in ("reproduced", "not_reproduced")
            assert done["provenance"]["attempts"] == 1
            assert os.getpgid(_pid(done)) == process.pid, "it ran in the worker's processes"
            again = submit(client, {"seed": 11, "params": TINY}, status=200)
            assert again["id"] == run["id"]
            _stops_cleanly(process, log)
        assert seen == ["queued"]


def test_a_killed_worker_leaves_its_run_retried_by_the_next_worker(
    settings: Settings, session_factory, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with api(settings) as client:
        with worker(settings, log) as first:
            run = submit(client, {"preset": "full", "seed": 0}, name="lazy_vs_rich")
            running = wait_for(client, run["id"], {"running"}, timeout=60)
            assert os.getpgid(_pid(running)) == first.pid
            # A busy worker does not take (prefetch) the next run: it waits in Redis.
            behind = submit(client, {"seed": 12, "params": TINY})
            runner = client.app.state.runner  # type: ignore[attr-defined]
            time.sleep(2)  # the worker's consumer polls at least every second
            assert runner.broker.client.llen(runner.queue_key) == 1
            _signal_group(first, signal.SIGKILL)  # the main process and its children
            first.wait()
        # No worker now: the sweeper sees the dead process and puts the run back.
        queued = wait_for(client, run["id"], {"queued", "failed", "cancelled", "succeeded"})
        assert queued["status"] == "queued", queued
        assert "stopped while running it (attempt 1 of 2)" in queued["progress"]["message"]
        with worker(settings, log) as second:
            retried = wait_for_attempt(client, run["id"], 2)
            assert retried["status"] == "running"
            assert os.getpgid(_pid(retried)) == second.pid
            client.post(f"{API}/runs/{run['id']}/cancel")
            assert wait_for(client, run["id"], {"cancelled"})["status"] == "cancelled"
            assert wait_for(client, behind["id"], {"succeeded"})["provenance"]["attempts"] == 1
            _stops_cleanly(second, log)


def test_a_stopped_worker_hands_its_run_back_and_a_lost_last_attempt_fails(
    settings: Settings, session_factory, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with api(settings) as client:
        with worker(settings, log) as first:
            run = submit(client, {"preset": "full", "seed": 1}, name="lazy_vs_rich")
            wait_for(client, run["id"], {"running"}, timeout=60)
            _stops_cleanly(first, log)  # SIGTERM mid-run
        handed_back = client.get(f"{API}/runs/{run['id']}").json()
        assert handed_back["status"] == "queued", (handed_back, log.read_text())
        assert handed_back["progress"]["message"] == "requeued: its worker was stopped"
        assert handed_back["provenance"]["attempts"] == 1
        with worker(settings, log) as second:
            retried = wait_for_attempt(client, run["id"], 2)
            _signal_group(second, signal.SIGKILL)
            second.wait()
        # Its last attempt was lost too: failed with the reason, never left running.
        failed = wait_for(client, run["id"], {"failed", "queued", "succeeded", "cancelled"})
        assert failed["status"] == "failed", failed
        assert failed["error"].startswith("gave up: worker ")
        assert retried["provenance"]["worker"] in failed["error"]
        assert "attempt 2 of 2" in failed["error"]


def test_the_sweeper_sends_each_queued_run_once_and_again_when_its_message_is_lost(
    settings: Settings, session_factory
) -> None:
    runner = DramatiqRunner(settings, session_factory)  # sweeps by hand only
    try:
        with session_factory() as session, session.begin():
            run = _row()
            session.add(run)

        def waiting() -> int:
            return int(runner.broker.client.llen(runner.queue_key))

        runner.sweep()
        assert waiting() == 0, "seen unsent once: its submit may still be under way"
        runner.sweep()
        assert waiting() == 1, "seen unsent twice (e.g. queued before a restart): sent"
        runner.sweep()
        runner.sweep()
        assert waiting() == 1, "no duplicates while it waits"

        # Its message is gone (taken by a worker that died before claiming it, or Redis
        # lost it): the queue is empty while the run is still queued.
        runner.broker.client.delete(runner.queue_key)
        runner.resend_after_s = 0
        runner.sweep()
        assert waiting() == 1

        # A lost attempt (its worker's process is gone) is requeued and sent at once.
        with session_factory() as session, session.begin():
            lost = _row(status=RunStatus.running, worker=f"{_host()}:999999", attempts=1, seed=1)
            session.add(lost)
        runner.sweep()
        assert waiting() == 2
        with session_factory() as session:
            assert session.get(ExperimentRun, lost.id).status == RunStatus.queued  # type: ignore[union-attr]
    finally:
        runner.stop()
