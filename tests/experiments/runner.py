"""Runs an experiment in-process for tests, caching results per test process.

`run(name, preset, seed, **overrides)` lets a test module check several signature numbers
of one run without training twice. Like the job workers, it runs through
`Experiment.compute` (one BLAS thread).
"""

import json
from functools import cache
from typing import Any

from app.experiments.base import Result, silent
from app.experiments.registry import get_experiment


@cache
def _run(name: str, preset: str, seed: int, overrides_json: str) -> Result:
    spec = get_experiment(name)
    assert spec is not None, f"experiment {name!r} is not registered"
    params = spec.resolve(preset, json.loads(overrides_json))  # type: ignore[arg-type]
    return spec.compute(params, seed, silent)


def run(name: str, preset: str = "quick", seed: int = 0, **overrides: Any) -> Result:
    return _run(name, preset, seed, json.dumps(overrides, sort_keys=True))
