"""Every benchmark of design.md section 6 at each size of the synthetic set, in one table.

    .venv/bin/python scripts/bench/run.py [--sizes 0.1,1,10] [--duration 10]
                                          [--json var/bench/results.json]

For each size (a multiple of the 50,000-source set of generate.py): make the set, or reuse
var/bench/set-<size>.db when its sidecar JSON says it was made with the same size, seed,
generator and migrations; import vs raw executemany (intake.compare, on fresh databases of
10,000 x size sources); then, on a working copy of the set, reads in the cold regime
against a server started with READ_CACHE_MB=0 (`atlas serve --workers 1 --no-upgrade`, as
production runs it; --workers N to compare), and one default server: the graph (load,
2-hop, path), reads in the warm regime (every URL of the load primed on every worker, hits
checked), memory, datasette
on the same list query, and publishing and rendering a version of a 1,000-item thread. Reads
are 16 concurrent wrk clients, each endpoint against /ping of the same server in the same run.
Prints the machine, one table (sizes as columns, growth, target, pass/fail) and writes the
same as JSON. A size that would not fit in free memory or disk is skipped with the reason.
Exits 1 if a part failed.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench import graph, reads, report, versions

ROOT = Path(__file__).resolve().parents[2]
warnings.filterwarnings("ignore", message="Skipped unsupported reflection")  # SQLAlchemy
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

BENCH = ROOT / "var" / "bench"
IMPORT_KEYS = {"import_rows_per_s", "raw_executemany_rows_per_s", "import_ratio"}


# ---------------------------------------------------------------- the sets


def fingerprint() -> str:
    """Changes when the generator or the schema (migrations) changes."""
    digest = hashlib.sha256()
    for path in [ROOT / "scripts/bench/generate.py", *sorted((ROOT / "migrations").rglob("*.py"))]:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_set(scale: float, seed: int) -> tuple[Path, float]:
    """var/bench/set-<scale>.db, generated unless its sidecar matches; seconds spent."""
    database = BENCH / f"set-{scale:g}.db"
    sidecar = database.with_suffix(".json")
    wanted = {"scale": scale, "seed": seed, "fingerprint": fingerprint()}
    if database.exists() and sidecar.exists():
        made = json.loads(sidecar.read_text())
        if {k: made.get(k) for k in wanted} == wanted:
            print(f"  reusing {database.relative_to(ROOT)} (generated in {made['seconds']} s)")
            return database, 0.0
    print(f"  generating {database.relative_to(ROOT)} ...", flush=True)
    started = time.perf_counter()
    sidecar.unlink(missing_ok=True)
    command = [sys.executable, "scripts/bench/generate.py", "--database", str(database)]
    command += ["--scale", f"{scale:g}", "--seed", str(seed)]
    subprocess.run(
        command,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = round(time.perf_counter() - started, 1)
    sidecar.write_text(json.dumps({**wanted, "seconds": seconds}, indent=2))
    return database, seconds


def available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def too_big(scale: float, workers: int) -> str | None:
    """Why `scale` would not fit, from a rough estimate (measured on the 0.1-1x sets: the
    generator peaks at about 250 MB per 1x; each server worker with its graph about 450 MB
    per 1x; datasette and this process about 700 MB per 1x, plus 400 MB; the file is 140 MB
    per 1x, and a working copy is made)."""
    memory = 400 + (700 + 450 * workers) * scale
    disk = 2 * 140 * scale + 100
    if memory > 0.8 * available_mb():
        return f"needs about {memory:,.0f} MB of memory, {available_mb():,.0f} MB available"
    if disk > shutil.disk_usage(BENCH).free / 1024**2:
        return f"needs about {disk:,.0f} MB of disk in {BENCH}"
    return None


# ---------------------------------------------------------------- one size


def part(name: str, errors: dict[str, str], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs one part; a failure is printed loudly and recorded, and the others still run."""
    started = time.perf_counter()
    print(f"  {name} ...", end=" ", flush=True)
    try:
        result = fn()
    except Exception as exc:  # any failure of a part: report it, go on with the others
        print("FAILED")
        traceback.print_exc()
        errors[name] = f"{type(exc).__name__}: {exc}"
        return {}
    print(f"{time.perf_counter() - started:.0f} s", flush=True)
    return result


def import_figures(scale: float, seed: int, errors: dict[str, str]) -> dict[str, Any]:
    from scripts.bench import intake  # the import path's own benchmark (another module)

    compare = getattr(intake, "compare", None)
    if compare is None:
        print("  import: intake.compare is not there yet (pending)")
        return {}
    count = max(1000, round(10_000 * scale))
    result = part(f"import ({count:,} sources)", errors, lambda: compare(count, seed))
    return {k if k in IMPORT_KEYS else f"import_{k}": v for k, v in result.items()}


def run_size(args: argparse.Namespace, scale: float) -> dict[str, Any]:
    started = time.perf_counter()
    errors: dict[str, str] = {}
    database, generate_s = ensure_set(scale, args.seed)
    figures: dict[str, Any] = {
        "sources": float(reads.count(database, "SELECT count(*) FROM sources"))
    }
    figures.update(import_figures(scale, args.seed, errors))
    work = BENCH / "run" / "atlas.db"
    work.parent.mkdir(parents=True, exist_ok=True)
    for leftover in work.parent.glob("atlas.db*"):
        leftover.unlink()
    shutil.copyfile(database, work)
    thread, token = versions.prepare(work, 1000, 100, args.seed)
    env = dict(item.split("=", 1) for item in args.env)
    cold_env = {**env, "READ_CACHE_MB": "0"}
    with reads.production_server(work, BENCH / "server-cold.log", args.workers, **cold_env) as cold:
        figures.update(
            part(
                "reads, cold (READ_CACHE_MB=0)",
                errors,
                lambda: reads.measure(cold, work, args.duration, args.seed, "cold"),
            )
        )
    with reads.production_server(work, BENCH / "server.log", args.workers, **env) as server:
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=600) as client:
            figures.update(
                part(
                    "graph",
                    errors,
                    lambda: graph.measure(
                        client, server.base, args.samples, args.seed, lambda: None
                    ),
                )
            )
        figures.update(
            part(
                "reads, warm (primed read cache)",
                errors,
                lambda: reads.measure(server, work, args.duration, args.seed, "warm"),
            )
        )
        figures.update(part("memory", errors, server.memory))
        figures.update(
            part(
                "datasette",
                errors,
                lambda: reads.against_datasette(server, work, args.duration, args.seed, BENCH),
            )
        )
        figures.update(reads.versus_datasette(figures))
        if reads.failed(figures):
            errors["reads"] = f"failed: {reads.failed(figures)}"
        with httpx.Client(base_url=server.base, headers=auth, timeout=600) as client:
            figures.update(
                part("versions", errors, lambda: versions.measure(client, thread, args.renders))
            )
    for log in ("server-cold.log", "server.log"):
        deaths = (BENCH / log).read_text(errors="replace").count("died")
        if deaths:
            errors[f"server ({log})"] = (
                f"{deaths} worker(s) died and were restarted: uvicorn's supervisor kills a "
                "worker that does not answer its health check in time (atlas serve "
                f"--worker-healthcheck-timeout; var/bench/{log})"
            )
    for leftover in work.parent.glob("atlas.db*"):
        leftover.unlink()
    seconds = round(time.perf_counter() - started, 1)
    print(f"  {scale:g}x done in {seconds:.0f} s")
    return {
        "seconds": seconds,
        "generate_seconds": generate_s,
        "figures": figures,
        "errors": errors,
    }


# ---------------------------------------------------------------- the command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.1,1", help="multiples of the 50,000-source set")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--json", type=Path, default=BENCH / "results.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=reads.WORKERS, help="server processes (production: 1)"
    )
    parser.add_argument("--samples", type=int, default=300, help="graph queries per kind")
    parser.add_argument("--renders", type=int, default=50, help="renders per format")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra server setting"
    )
    args = parser.parse_args()
    scales = sorted({float(s) for s in args.sizes.split(",")})
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run scripts/bench/run.sh (installs it), or apt-get install wrk")
    BENCH.mkdir(parents=True, exist_ok=True)
    machine = report.machine()
    print(report.machine_line(machine), flush=True)
    sizes: dict[float, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for scale in scales:
        print(f"== {scale:g}x ({round(50_000 * scale):,} sources) ==", flush=True)
        reason = too_big(scale, args.workers)
        if reason:
            print(f"  skipped: {reason}")
            skipped[f"{scale:g}"] = reason
            continue
        sizes[scale] = run_size(args, scale)
    results = {s: r["figures"] for s, r in sizes.items()}
    text, rows = report.table(results, pending=set() if _has_compare() else IMPORT_KEYS)
    print()
    print(report.machine_line(machine))
    print(
        f"reads: wrk -t{reads.THREADS} -c{reads.CONNECTIONS} -d{args.duration:g}s against "
        f"atlas serve --workers {args.workers}; "
        + "; ".join(f"{k}: {v}" for k, v in reads.REGIMES.items())
        + "; growth: log-log slope over sources (1 = linear; rates: of their inverse); "
        "! = misses its target"
    )
    print(text)
    for scale, r in sizes.items():
        print(
            f"{scale:g}x: {r['seconds']:.0f} s"
            + (
                f" (+ {r['generate_seconds']:.0f} s generating the set)"
                if r["generate_seconds"]
                else ""
            )
        )
    for scale_name, reason in skipped.items():
        print(f"{scale_name}x skipped: {reason}")
    failed = {f"{s:g}x {k}": v for s, r in sizes.items() for k, v in r["errors"].items()}
    for name, error in failed.items():
        print(f"FAILED {name}: {error}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": machine,
                "settings": {"duration_s": args.duration, "seed": args.seed, "env": args.env},
                "sizes": {f"{s:g}": r for s, r in sizes.items()},
                "skipped": skipped,
                "table": rows,
            },
            indent=2,
        )
    )
    print(f"written to {args.json}")
    sys.exit(1 if failed else 0)


def _has_compare() -> bool:
    from scripts.bench import intake

    return hasattr(intake, "compare")


if __name__ == "__main__":
    main()
