"""Shares trained experiment runs between the pytest-xdist workers of one test run."""

import os
from collections.abc import Iterator

import pytest

from tests.experiments import runner


@pytest.fixture(scope="session", autouse=True)
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is popen-gwN inside this run's folder
        runner.SHARED["folder"] = tmp_path_factory.getbasetemp().parent / "experiment-runs"
    yield
    runner.SHARED.clear()
