"""The benchmark table: which figures, their units, targets (design.md section 6) and growth
from the smallest to the largest size; the machine line."""

import math
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    kind: str  # "cost" (lower is better), "rate" (higher is better), "size" (data),
    # "check" (no growth), "heading" (a line of its own, no figure)
    target: tuple[str, float] | None = None  # ("<", 20.0) or (">=", 0.4)

    def passes(self, value: float) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target
        return value < bound if op == "<" else value >= bound


READS = {
    "source_by_id": "GET /sources/{id} (direct path)",
    "source_list": "GET /sources?kind&year (50)",
    "open_tensions": "GET /tensions?status=open",
    "search": "GET /search?q",
}
# warm: the default server with every URL of the load primed on every worker (the design
# target is read against it); cold: READ_CACHE_MB=0, every request computed (beside it)
FIGURES = [
    Figure("sources", "sources in the set", "", "size"),
    Figure("edges", "graph edges (explicit + derived)", "", "size"),
    Figure("import_rows_per_s", "import: POST /sources", "src/s", "rate"),
    Figure("raw_executemany_rows_per_s", "import: raw executemany", "src/s", "rate"),
    Figure("import_ratio", "import ratio (import / raw)", "x", "rate", (">=", 0.4)),
    Figure("", "reads: warm = primed read cache, cold = READ_CACHE_MB=0", "", "heading"),
    Figure("warm_ping_rps", "GET /ping (constant JSON), warm", "req/s", "rate"),
    Figure("warm_ping_p99_ms", "  p99, warm", "ms", "cost"),
    Figure("cold_ping_rps", "GET /ping (constant JSON), cold", "req/s", "rate"),
    Figure("cold_ping_p99_ms", "  p99, cold", "ms", "cost"),
    Figure("warm_hit_check_share", "warm: primed sample with x-cache: hit", "share", "check"),
]
for _key, _label in READS.items():
    FIGURES += [
        Figure("", _label, "", "heading"),
        Figure(f"warm_{_key}_rps", "  warm", "req/s", "rate"),
        Figure(f"cold_{_key}_rps", "  cold", "req/s", "rate"),
        Figure(f"warm_{_key}_ratio", "  ratio to /ping, warm", "x", "rate", (">=", 0.5)),
        Figure(f"cold_{_key}_ratio", "  ratio to /ping, cold", "x", "rate"),
        Figure(f"warm_{_key}_p50_ms", "  p50, warm", "ms", "cost"),
        Figure(f"cold_{_key}_p50_ms", "  p50, cold", "ms", "cost"),
        Figure(f"warm_{_key}_p99_ms", "  p99, warm", "ms", "cost"),
        Figure(f"cold_{_key}_p99_ms", "  p99, cold", "ms", "cost"),
    ]
FIGURES += [
    Figure("datasette_source_list_rps", "datasette: same list query (no cache)", "req/s", "rate"),
    Figure("datasette_source_list_p50_ms", "  p50", "ms", "cost"),
    Figure("datasette_source_list_p99_ms", "  p99", "ms", "cost"),
    Figure("cold_source_list_vs_datasette", "  our list / datasette, cold", "x", "rate"),
    Figure("warm_source_list_vs_datasette", "  our list / datasette, warm", "x", "rate"),
    Figure("graph_load_ms", "graph load (first request)", "ms", "cost"),
    Figure("two_hop_p50_ms", "2-hop neighbourhood p50", "ms", "cost", ("<", 20.0)),
    Figure("two_hop_p99_ms", "2-hop neighbourhood p99", "ms", "cost"),
    Figure("two_hop_unlimited_p50_ms", "2-hop, limit 5000, p50", "ms", "cost"),
    Figure("two_hop_unlimited_p99_ms", "2-hop, limit 5000, p99", "ms", "cost"),
    Figure("path_p50_ms", "shortest path p50", "ms", "cost"),
    Figure("path_p99_ms", "shortest path p99", "ms", "cost"),
    Figure("publish_ms", "publish v1, 1,000-item thread", "ms", "cost", ("<", 1000.0)),
    Figure("publish_next_ms", "publish v2", "ms", "cost", ("<", 1000.0)),
    Figure("render_json_first_ms", "render stored version: json", "ms", "cost", ("<", 50.0)),
    Figure("render_md_first_ms", "render stored version: md", "ms", "cost", ("<", 50.0)),
    Figure("render_html_first_ms", "render stored version: html", "ms", "cost", ("<", 50.0)),
    Figure("render_html_p50_ms", "  html, repeated, p50", "ms", "cost"),
    Figure("rss_idle_total_mb", "server RSS at start", "MB", "cost"),
    Figure("pss_total_mb", "server memory, set loaded (PSS)", "MB", "cost", ("<", 400.0)),
    Figure("rss_total_mb", "  RSS, all server processes", "MB", "cost"),
    Figure("rss_worker_max_mb", "  RSS of the largest worker", "MB", "cost"),
    Figure("datasette_rss_mb", "datasette RSS", "MB", "cost"),
]
BENCHMARK_SCALE = 1.0  # the set design.md's targets are stated for


def growth(figure: Figure, values: dict[float, float], sizes: dict[float, float]) -> float | None:
    """Log-log slope from the smallest to the largest size measured: 1.0 grows like the
    data, 0 stays flat. For rates, the slope of their inverse (the cost per operation)."""
    if figure.kind == "check":
        return None
    known = sorted(s for s in values if values[s] and values[s] > 0 and sizes.get(s))
    if len(known) < 2:
        return None
    small, large = known[0], known[-1]
    slope = math.log(values[large] / values[small]) / math.log(sizes[large] / sizes[small])
    return -slope if figure.kind == "rate" else slope


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if 0 < abs(value) < 0.1:
        return f"{value:.2g}"  # small ratios keep two significant digits
    return f"{value:.2f}"


def table(
    results: dict[float, dict[str, Any]], pending: set[str]
) -> tuple[str, list[dict[str, Any]]]:
    """The printed table and the same rows as data. `results`: scale -> figures."""
    scales = sorted(results)
    sizes = {s: float(results[s].get("sources") or 0) for s in scales}
    head = [
        "figure",
        "unit",
        *[f"{s:g}x" for s in scales],
        "growth",
        "target",
        f"at {BENCHMARK_SCALE:g}x",
    ]
    lines, rows = [], []
    group = ""
    for f in FIGURES:
        if f.kind == "heading":
            lines.append([f.label, "", *[""] * len(scales), "", "", ""])
            group = f.label
            continue
        if not f.label.startswith(" "):
            group = f.label
        values = {s: results[s][f.key] for s in scales if results[s].get(f.key) is not None}
        slope = growth(f, values, sizes)
        verdict = None
        if f.target is not None and BENCHMARK_SCALE in values:
            verdict = f.passes(values[BENCHMARK_SCALE])
        cells = []
        for s in scales:
            if s in values:
                bad = f.passes(values[s]) is False
                cells.append(fmt(values[s]) + ("!" if bad else ""))
            else:
                cells.append("pending" if f.key in pending else "-")
        target = f"{f.target[0]} {f.target[1]:g}" if f.target else ""
        flag = "" if slope is None or f.kind == "size" or slope <= 1.1 else " >1"
        lines.append(
            [
                f.label,
                f.unit,
                *cells,
                ("-" if slope is None else f"{slope:.2f}") + flag,
                target,
                {True: "pass", False: "FAIL", None: ""}[verdict],
            ]
        )
        rows.append(
            {
                "key": f.key,
                "label": f.label.strip(),
                "group": group,
                "unit": f.unit,
                "values": {f"{s:g}": values.get(s) for s in scales},
                "growth": None if slope is None else round(slope, 3),
                "target": f"{f.target[0]} {f.target[1]:g}" if f.target else None,
                "pass": verdict,
            }
        )
    body = [r for r in lines if any(r[1:])]  # headings do not widen the columns
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    text = []
    for r in [head, *lines]:
        if not any(r[1:]):
            text.append(str(r[0]))
            continue
        cells = [
            str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i]) for i, c in enumerate(r)
        ]
        text.append("  ".join(cells).rstrip())
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text), rows


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(int(meminfo["MemTotal"].split()[0]) / 1024**2, 1),
        "python": platform.python_version(),
        "load_average": round(os.getloadavg()[0], 2),
        "commit": commit,
    }


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"machine: {m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB, Python {m['python']}, "
        f"load average {m['load_average']} at start, commit {m['commit']}"
    )
