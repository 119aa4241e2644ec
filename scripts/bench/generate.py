"""Make a synthetic but realistic Theory Atlas database for benchmarks.

Defaults (scale 1): 50,000 sources grouped into works (about 1.3 copies per work),
5,000 claims, 500 tensions with two or three sides, 300,000 explicit edges, 20,000 evidence
links, 300 actors, 200 perspectives, 1,000 timeline events, 5,000 thread items. Degrees are
skewed: endpoints are drawn from a Zipf-like distribution, so a few nodes are hubs, as in a
real citation graph. Text is drawn from a vocabulary of 5,000 words with Zipf's law of
word frequency (the 35 topical words of WORDS at ranks 30 to 3,000, the rest made-up
filler), so that a search word matches a realistic share of the sources (about 0.1% to
16%) rather than nearly all of them. The schema comes from the migrations (same indexes
and triggers).

    python scripts/bench/generate.py --database var/bench.db [--scale 0.1] [--seed 0]
"""

import argparse
import itertools
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert

from app.core import migrations
from app.core.config import Settings
from app.core.db import make_engine
from app.models import Base

BASE = {
    "sources": 50_000,
    "claims": 5_000,
    "tensions": 500,
    "edges": 300_000,
    "evidence": 20_000,
    "actors": 300,
    "perspectives": 200,
    "events": 1_000,
    "thread_items": 5_000,
}
WORDS = [
    "generalization",
    "memorization",
    "uniform",
    "convergence",
    "benign",
    "overfitting",
    "double",
    "descent",
    "implicit",
    "bias",
    "lazy",
    "rich",
    "regime",
    "scaling",
    "law",
    "emergence",
    "grokking",
    "kernel",
    "margin",
    "stability",
    "compression",
    "flatness",
    "sharpness",
    "PAC-Bayes",
    "bound",
    "random",
    "features",
    "two-layer",
    "network",
    "transformer",
    "attention",
    "feature",
    "learning",
    "mean-field",
    "NTK",
]
VOCABULARY_SIZE = 5_000


def _vocabulary() -> tuple[list[str], list[float]]:
    """Words by frequency rank, and the cumulative weights of Zipf's law (weight 1/rank).
    Filler words are syllables strung together (fixed seed: the same every run); the topical
    words sit at ranks spread evenly on a log scale from 30 to 3,000."""
    rng = random.Random(12345)
    syllables = [a + b for a in "bdfgklmnprstvz" for b in "aeiou"]
    filler: list[str] = []
    seen = {w.lower() for w in WORDS}
    while len(filler) < VOCABULARY_SIZE - len(WORDS):
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            filler.append(word)
    ranks = {round(30 * 100 ** (i / (len(WORDS) - 1))) - 1: w for i, w in enumerate(WORDS)}
    words = []
    for rank in range(VOCABULARY_SIZE):
        words.append(ranks[rank] if rank in ranks else filler.pop())
    return words, list(itertools.accumulate(1 / r for r in range(1, VOCABULARY_SIZE + 1)))


VOCABULARY, CUMULATIVE_WEIGHTS = _vocabulary()
RELATIONS = ("cites", "addresses", "about", "supports", "contests", "extends", "responds_to")


def zipf_pick(rng: random.Random, n: int, a: float = 1.1) -> int:
    """An index in [0, n) with a heavy head: small indices are chosen far more often."""
    while True:
        k = int(rng.paretovariate(a))
        if k <= n:
            return k - 1


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=CUMULATIVE_WEIGHTS, k=words)).capitalize()


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def generate(database: Path, scale: float, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    n = {k: max(1, int(v * scale)) for k, v in BASE.items()}
    if database.exists():
        database.unlink()
    settings = Settings(database_url=f"sqlite:///{database}")
    migrations.upgrade(settings)
    engine = make_engine(settings)
    rows: dict[str, list[dict[str, Any]]] = {}
    rows["problems"] = [
        {"id": i, "slug": f"problem-{i}", "number": i, "title": text(rng, 6)} for i in range(1, 8)
    ]
    rows["threads"] = [
        {"id": 1, "slug": "bench-thread", "title": "Benchmark thread", "found_via": "bench"}
    ]
    rows["actors"] = [
        {"id": i, "slug": f"actor-{i}", "name": f"Author {i}", "kind": "person"}
        for i in range(1, n["actors"] + 1)
    ]
    works, sources = [], []
    work_id = 0
    for sid in range(1, n["sources"] + 1):
        if not works or rng.random() > 0.25:  # about 1.3 copies per work
            work_id += 1
            works.append({"id": work_id, "title": text(rng, 8)})
        year = rng.randint(1990, 2026)
        sources.append(
            {
                "id": sid,
                "work_id": work_id,
                "citekey": f"src-{sid}",
                "kind": "paper",
                "title": works[-1]["title"],
                "authors": [{"given": None, "family": f"Author {zipf_pick(rng, n['actors']) + 1}"}],
                "et_al": False,
                "date": date(year, rng.randint(1, 12), 1),
                "date_precision": "month",
                "abstract": text(rng, 40),
                "arxiv_id": f"{year % 100:02d}{rng.randint(1, 12):02d}.{sid:05d}",
            }
        )
    rows["works"], rows["sources"] = works, sources
    rows["claims"] = [
        {
            "id": i,
            "slug": f"claim-{i}",
            "problem_id": rng.randint(1, 7),
            "text": text(rng, 14),
            "kind": "empirical",
            "status": rng.choice(["open", "supported", "contested"]),
            "scope": {},
        }
        for i in range(1, n["claims"] + 1)
    ]
    seen: set[tuple[int, int, str]] = set()
    evidence = []
    while len(evidence) < n["evidence"]:
        key = (
            zipf_pick(rng, n["claims"]) + 1,
            rng.randint(1, n["sources"]),
            rng.choice(["supports", "supports", "contests", "refines"]),
        )
        if key not in seen:
            seen.add(key)
            evidence.append(
                {
                    "id": len(evidence) + 1,
                    "claim_id": key[0],
                    "source_id": key[1],
                    "relation": key[2],
                }
            )
    rows["evidence"] = evidence
    rows["perspectives"] = [
        {
            "id": i,
            "slug": f"perspective-{i}",
            "thread_id": 1,
            "actor_id": rng.randint(1, n["actors"]),
            "label": f"View {i}",
            "stance": text(rng, 20),
            "position": i,
        }
        for i in range(1, n["perspectives"] + 1)
    ]
    rows["tensions"] = [
        {
            "id": i,
            "slug": f"tension-{i}",
            "thread_id": 1,
            "problem_id": rng.randint(1, 7),
            "title": text(rng, 6),
            "question": text(rng, 20),
            "status": "open",
            "position": i,
        }
        for i in range(1, n["tensions"] + 1)
    ]
    sides, side_claims = [], []
    for t in range(1, n["tensions"] + 1):
        for pos in range(rng.choice([2, 2, 3])):
            sides.append(
                {"id": len(sides) + 1, "tension_id": t, "label": f"side {pos}", "position": pos}
            )
            for c in {zipf_pick(rng, n["claims"]) + 1 for _ in range(3)}:
                side_claims.append({"side_id": len(sides), "claim_id": c, "position": 0})
    rows["tension_sides"], rows["side_claims"] = sides, side_claims
    rows["timeline_events"] = [
        {
            "id": i,
            "slug": f"event-{i}",
            "thread_id": 1,
            "date": date(rng.randint(2000, 2026), 1, 1),
            "date_precision": "year",
            "text": text(rng, 12),
            "position": i,
        }
        for i in range(1, n["events"] + 1)
    ]
    # What perspectives and tensions rest on (the links the graph follows).
    rows["perspective_sources"] = [
        {"perspective_id": p, "source_id": s, "position": k}
        for p in range(1, n["perspectives"] + 1)
        for k, s in enumerate(sorted({rng.randint(1, n["sources"]) for _ in range(5)}))
    ]
    rows["tension_sources"] = [
        {"tension_id": t, "source_id": s, "position": k}
        for t in range(1, n["tensions"] + 1)
        for k, s in enumerate(sorted({zipf_pick(rng, n["sources"]) + 1 for _ in range(6)}))
    ]
    rows["thread_items"] = [
        {"thread_id": 1, "source_id": s, "found_via": "bench", "citation_number": k + 1}
        for k, s in enumerate(
            rng.sample(range(1, n["sources"] + 1), min(n["thread_items"], n["sources"]))
        )
    ]
    edge_keys: set[tuple[Any, ...]] = set()
    edges = []
    kinds = [
        ("source", n["sources"]),
        ("source", n["sources"]),
        ("source", n["sources"]),
        ("claim", n["claims"]),
        ("problem", 7),
        ("tension", n["tensions"]),
    ]
    while len(edges) < n["edges"]:
        (ft, fn), (tt, tn) = rng.choice(kinds), rng.choice(kinds)
        key = (
            ft,
            rng.randint(1, fn) if ft == "source" else zipf_pick(rng, fn) + 1,
            rng.choice(RELATIONS),
            tt,
            zipf_pick(rng, tn) + 1,
        )
        if key in edge_keys or (key[0], key[1]) == (key[3], key[4]):
            continue
        edge_keys.add(key)
        edges.append(
            {
                "id": len(edges) + 1,
                "from_type": key[0],
                "from_id": key[1],
                "relation": key[2],
                "to_type": key[3],
                "to_id": key[4],
            }
        )
    rows["edges"] = edges
    order = [
        "problems",
        "threads",
        "actors",
        "works",
        "sources",
        "claims",
        "evidence",
        "perspectives",
        "tensions",
        "tension_sides",
        "side_claims",
        "perspective_sources",
        "tension_sources",
        "timeline_events",
        "thread_items",
        "edges",
    ]
    with engine.begin() as conn:
        for name in order:
            batch = rows[name]
            for start in range(0, len(batch), 10_000):
                conn.execute(insert(table(name)), batch[start : start + 10_000])
    engine.dispose()
    return {name: len(rows[name]) for name in order}


def require_set(database: Path) -> Path:
    """`database`, or exit with what to run when the set has not been generated."""
    if not database.exists():
        raise SystemExit(f"{database} does not exist: run scripts/bench/generate.py first")
    return database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=Path("var/bench.db"))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.database.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = generate(args.database, args.scale, args.seed)
    print(f"generated {args.database} in {time.perf_counter() - started:.1f} s")
    for name, count in counts.items():
        print(f"  {name:<16} {count:>8}")


if __name__ == "__main__":
    main()
