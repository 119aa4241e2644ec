"""The deployment, run here: the API and a worker started exactly as docker-compose.yml
starts them (same commands, same environment, the prestart step included), on a fresh
PostgreSQL database and the local Redis. A run submitted through the API gets its result.
Uses PostgreSQL itself, so it runs once (in the SQLite pass)."""

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import _pg_admin, _pg_url
from tests.helpers import API
from tests.servers import free_port
from tests.test_deploy import compose_service
from tests.test_worker import REDIS_URL

pytestmark = pytest.mark.once


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"atlas_test_{secrets.token_hex(6)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the main process only, as `docker stop` does
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_api_and_worker_as_compose_runs_them(postgres_url: str, tmp_path: Path) -> None:
    queue = f"atlas-test-{secrets.token_hex(4)}"
    port = free_port()
    extra = {"DRAMATIQ_QUEUE": queue}
    api = compose_service("api", postgres_url, data_dir=tmp_path, port=port, extra_env=extra)
    worker = compose_service("worker", postgres_url, data_dir=tmp_path, extra_env=extra)
    assert api.env["JOB_RUNNER"] == worker.env["JOB_RUNNER"] == "dramatiq"
    assert api.env["ENVIRONMENT"] == "production"
    base = f"http://127.0.0.1:{port}"
    api_process = _start(api.argv, api.env, api.cwd, tmp_path / "api.log")
    worker_process = None
    try:
        deadline = time.monotonic() + 120
        while True:  # the prestart step migrates and seeds first
            assert api_process.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
            time.sleep(0.5)
        worker_process = _start(worker.argv, worker.env, worker.cwd, tmp_path / "worker.log")
        made = subprocess.run(
            ["atlas", "token", "create", "--name", "deploy test", "--scopes", "write"],
            env=api.env,
            cwd=api.cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        token = made.stdout.strip().splitlines()[-1]
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            assert http.get(f"{API}/problems").json()["total"] == 7, "seeded by prestart"
            submitted = http.post(
                f"{API}/experiments/scaling_law/runs", json={"preset": "full", "seed": 0}
            )
            assert submitted.status_code == 202, submitted.text
            run_id = submitted.json()["id"]
            deadline = time.monotonic() + 180
            while (run := http.get(f"{API}/runs/{run_id}").json())["status"] in (
                "queued",
                "running",
            ):
                assert worker_process.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, run
                time.sleep(0.5)
            assert run["status"] == "succeeded", (run, (tmp_path / "worker.log").read_text())
            assert run["verdict"] == "reproduced"
            assert run["provenance"]["worker"].split(":")[-1] != str(api_process.pid)
            plot = http.get(f"{API}/runs/{run_id}/plot.png")
            assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
            assert list((tmp_path / "plots").glob(f"run-{run_id}-*.png")), "PLOTS_DIR on /data"
    finally:
        for process in (worker_process, api_process):
            if process is not None:
                _stop(process)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
