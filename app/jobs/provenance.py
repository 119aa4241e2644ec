"""What a run's result depends on: code version, library versions, and the cache key."""

import hashlib
import json
import platform
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from app.experiments.base import Experiment

EXPERIMENTS_DIR = Path(__file__).resolve().parents[1] / "experiments"
# Modules every experiment may use; a change to any of them changes every code version.
SHARED_MODULES = ("base.py", "nn.py", "data.py")
LIBRARIES = ("numpy", "scipy", "scikit-learn", "theory-atlas")


def code_version(experiment: Experiment) -> str:
    """The package version plus a hash of the experiment's module and the shared modules:
    editing an experiment invalidates its cached runs, and only its own."""
    return _code_version(experiment.run.__code__.co_filename)


@cache
def _code_version(module_file: str) -> str:
    digest = hashlib.sha256()
    for path in [Path(module_file), *(EXPERIMENTS_DIR / name for name in SHARED_MODULES)]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{_version('theory-atlas')}+{digest.hexdigest()[:12]}"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def libraries() -> dict[str, str]:
    found = {name: _version(name) for name in LIBRARIES}
    found["python"] = platform.python_version()
    found["platform"] = platform.platform(terse=True)
    return found


def cache_key(name: str, params: dict[str, Any], seed: int, version: str) -> str:
    canonical = json.dumps(
        {"experiment": name, "params": params, "seed": seed, "code_version": version},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
