"""Times every experiment's quick preset (seeds 0-2), control and full preset (seed 0),
one after another in this process, and prints the signature numbers.

    .venv/bin/python scripts/bench/experiments.py [--names a,b] [--no-full] [--json out.json]
"""

import argparse
import json
import os
import platform
import time
from typing import Any

from app.experiments.base import silent
from app.experiments.registry import all_experiments


def timed(name: str, preset: str, seed: int) -> dict[str, Any]:
    spec = all_experiments()[name]
    params = spec.resolve(preset)  # type: ignore[arg-type]
    started = time.perf_counter()
    result = spec.compute(params, seed, silent)
    return {
        "experiment": name,
        "preset": preset,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 2),
        "verdict": result.verdict.value,
        "checks": {c.name: c.value for c in result.checks},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--names", default="", help="Comma-separated experiment names.")
    parser.add_argument("--no-full", action="store_true", help="Skip the full presets.")
    parser.add_argument("--json", default="", help="Also write the rows to this file.")
    args = parser.parse_args()
    names = [n for n in args.names.split(",") if n] or list(all_experiments())
    plan = [("quick", s) for s in (0, 1, 2)] + [("control", 0)]
    plan += [] if args.no_full else [("full", 0)]
    print(f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    rows = []
    for name in names:
        for preset, seed in plan:
            row = timed(name, preset, seed)
            rows.append(row)
            checks = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in row["checks"].items()
            )
            print(
                f"{name:<22} {preset:<7} seed {seed}  {row['seconds']:>7.2f} s  "
                f"{row['verdict']:<15} {checks}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
