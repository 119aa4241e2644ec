"""The catalogue of experiments: every module of this package that defines `EXPERIMENT`."""

import importlib
import pkgutil
from functools import cache

from app import experiments
from app.experiments.base import Experiment

_NOT_EXPERIMENTS = frozenset({"base", "registry", "nn", "data"})


@cache
def all_experiments() -> dict[str, Experiment]:
    """Name → experiment, in name order, discovered once per process."""
    found: dict[str, Experiment] = {}
    for module in pkgutil.iter_modules(experiments.__path__):
        if module.name in _NOT_EXPERIMENTS or module.name.startswith("_"):
            continue
        spec = getattr(
            importlib.import_module(f"app.experiments.{module.name}"), "EXPERIMENT", None
        )
        if isinstance(spec, Experiment):
            found[spec.name] = spec
    return dict(sorted(found.items()))


def get_experiment(name: str) -> Experiment | None:
    return all_experiments().get(name)
