"""Runs an experiment in-process for tests, caching results.

`run(name, preset, seed, **overrides)` lets a test module check several signature numbers
of one run without training twice. Like the job workers, it runs through
`Experiment.compute` (one BLAS thread). Under pytest-xdist the tests of one module land on
both workers, so results are also kept on disk for the test run: the first worker to need a
run trains it (holding a lock on it) and the other loads it.
"""

import fcntl
import hashlib
import json
import pickle
from functools import cache
from pathlib import Path
from typing import Any

from app.experiments.base import Result, silent
from app.experiments.registry import get_experiment

# Set by tests/experiments/conftest.py under pytest-xdist: a folder all workers of this test
# run share (pytest prunes it with the run's other temporary files).
SHARED: dict[str, Path] = {}


def _compute(name: str, preset: str, seed: int, overrides_json: str) -> Result:
    spec = get_experiment(name)
    assert spec is not None, f"experiment {name!r} is not registered"
    params = spec.resolve(preset, json.loads(overrides_json))  # type: ignore[arg-type]
    return spec.compute(params, seed, silent)


@cache
def _run(name: str, preset: str, seed: int, overrides_json: str) -> Result:
    folder = SHARED.get("folder")
    if folder is None:
        return _compute(name, preset, seed, overrides_json)
    folder.mkdir(exist_ok=True)
    key = hashlib.sha256(f"{name}|{preset}|{seed}|{overrides_json}".encode()).hexdigest()[:24]
    stored = folder / f"{key}.pickle"
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if stored.exists():
            return pickle.loads(stored.read_bytes())  # written by this test run
        result = _compute(name, preset, seed, overrides_json)
        partial = stored.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(result))
        partial.rename(stored)  # whole or absent, even if this worker dies while writing
        return result


def run(name: str, preset: str = "quick", seed: int = 0, **overrides: Any) -> Result:
    return _run(name, preset, seed, json.dumps(overrides, sort_keys=True))
