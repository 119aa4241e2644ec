"""The deployment, run here: the API and a worker started exactly as docker-compose.yml
starts them (same commands, same environment, the prestart step included), on a fresh
PostgreSQL database and the local Redis. A run submitted through the API gets its result.
Uses PostgreSQL itself, so it runs once (in the SQLite pass)."""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import _pg_admin, _pg_url
from tests.helpers import API
from tests.servers import free_port
from tests.test_deploy import compose_service, image_healthcheck
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


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether `ancestor` is `pid` or one of its parents (through /proc)."""
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state
    return False


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
        # The image's HEALTHCHECK command, pointed at this port, passes; at a dead port, fails.
        probe = image_healthcheck()[2]
        for target, code in ((port, 0), (free_port(), 1)):
            checked = subprocess.run(
                [sys.executable, "-c", probe.replace("127.0.0.1:8000", f"127.0.0.1:{target}")],
                capture_output=True,
                timeout=60,
            )
            assert (checked.returncode == 0) == (code == 0), checked
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
            runner_pid = int(run["provenance"]["worker"].split(":")[-1])
            assert _descends_from(runner_pid, worker_process.pid), "run by the worker service"
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
