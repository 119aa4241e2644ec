"""Graph benchmark on the synthetic set: load time, 2-hop neighbourhood and shortest-path
latency (p50/p99, over HTTP against a real server process) and the server's resident memory.

    python scripts/bench/generate.py --database var/bench.db      # once
    python scripts/bench/graph.py --database var/bench.db [--samples 300]

Prints a table and writes it as JSON (--json, default var/bench-graph.json).
"""

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.generate import require_set
from tests.servers import api_server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def server_pid(port: int) -> int:
    """The uvicorn process listening on `port` (found through /proc, no extra tools)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"uvicorn" in b" ".join(cmdline) and str(port).encode() in cmdline:
                return int(proc.name)
    raise RuntimeError("server process not found")


def timed(client: httpx.Client, url: str, params: dict[str, Any]) -> tuple[float, Any]:
    """Milliseconds and the JSON answer; a 404 (no path) is an answer too."""
    started = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 404:
        response.raise_for_status()
    return elapsed, response.json()


def measure(
    client: httpx.Client, base: str, samples: int, seed: int, on_loaded: Callable[[], None]
) -> dict[str, Any]:
    """The graph figures against a running server whose graph is not loaded yet (on the
    worker that `client` talks to): the first request times the load; `on_loaded` runs
    right after it (to read memory)."""
    rng = random.Random(seed)
    load_ms, stats = timed(client, f"{base}/api/v1/graph/stats", {})
    on_loaded()
    counts = stats["node_types"]
    nodes = [f"{t}:{rng.randint(1, n)}" for t, n in counts.items() for _ in range(3)]
    nodes += [f"source:{rng.randint(1, counts['source'])}" for _ in range(samples)]
    hood = [
        timed(client, f"{base}/api/v1/graph/nodes/{n}/neighbourhood", {"k": 2})
        for n in rng.sample(nodes, min(samples, len(nodes)))
    ]
    hood_full = [
        timed(client, f"{base}/api/v1/graph/nodes/{n}/neighbourhood", {"k": 2, "limit": 5000})
        for n in rng.sample(nodes, 50)
    ]
    paths = []
    for _ in range(samples // 3):
        a, b = rng.sample(nodes, 2)
        paths.append(timed(client, f"{base}/api/v1/graph/path", {"from": a, "to": b}))
    hood_ms = [t for t, _ in hood]
    full_ms = [t for t, _ in hood_full]
    path_ms = [t for t, _ in paths]
    return {
        "nodes": stats["nodes"],
        "edges": stats["edges"],
        "graph_load_ms": round(load_ms, 1),
        "two_hop_p50_ms": round(statistics.median(hood_ms), 2),
        "two_hop_p99_ms": round(percentile(hood_ms, 99), 2),
        "two_hop_mean_nodes": round(statistics.mean(len(r["nodes"]) for _, r in hood), 1),
        "two_hop_unlimited_p50_ms": round(statistics.median(full_ms), 2),
        "two_hop_unlimited_p99_ms": round(percentile(full_ms, 99), 2),
        "path_p50_ms": round(statistics.median(path_ms), 2),
        "path_p99_ms": round(percentile(path_ms, 99), 2),
        "path_found": sum("length" in r for _, r in paths),
        "path_tried": len(paths),
        "path_mean_length": round(
            statistics.mean([r["length"] for _, r in paths if "length" in r] or [0]), 2
        ),
    }


def run(database: Path, samples: int, seed: int) -> dict[str, Any]:
    """Starts one uvicorn process on `database`, then `measure` with its memory."""
    with api_server(f"sqlite:///{database.resolve()}") as base, httpx.Client(timeout=120) as c:
        pid = server_pid(int(base.rsplit(":", 1)[1]))
        memory = {"rss_idle_mb": round(rss_mb(pid), 1)}
        result = measure(
            c, base, samples, seed, lambda: memory.update(rss_loaded_mb=round(rss_mb(pid), 1))
        )
        memory["rss_after_queries_mb"] = round(rss_mb(pid), 1)
    return {**result, **memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=Path("var/bench.db"))
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("var/bench-graph.json"))
    args = parser.parse_args()
    require_set(args.database)
    result = run(args.database, args.samples, args.seed)
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
