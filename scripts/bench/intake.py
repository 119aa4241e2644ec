"""Intake rates: sources per second through POST /sources (JSON) and POST /sources/import
(BibTeX, CSL-JSON), on a fresh SQLite database, in process (no network hop).

`--compare` measures the design target (design.md section 6): the import path against a raw
`sqlite3` `executemany` of exactly the rows that import wrote (every table it touched), into
a second fresh database built by the same migrations (same indexes, same search triggers),
in one transaction, in the same run. Both rates count sources.

    python scripts/bench/intake.py [--count 10000]            # rates per format
    python scripts/bench/intake.py --compare [--count 50000] [--format json|bibtex]
"""

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core import migrations
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.main import create_app
from app.services import tokens
from app.services.formats import bibtex, csljson
from app.services.intake import MAX_ITEMS
from scripts.bench.generate import WORDS

# Reflecting the schema (the app's startup check) cannot read the expression index.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection")

LINKS = ["of", "in", "for", "and", "with", "via", "beyond", "under"]
GIVEN = ["Ada", "Vitaly", "Chiyuan", "Behnam", "Mikhail", "Yasaman", "Preetum", "Gintare", None]
FAMILY = [
    "Müller",
    "Zhang",
    "Bartlett",
    "Feldman",
    "Neyshabur",
    "Belkin",
    "Bahri",
    "Nakkiran",
    "Dziugaite",
    "Roy",
    "Jacot",
    "Nagarajan",
    "Kolter",
    "Arora",
    "Srebro",
    "Ng",
    "Soudry",
    "Mei",
    "Montanari",
    "Hastie",
]
VENUES = [
    "NeurIPS",
    "ICML",
    "ICLR",
    "COLT",
    "Journal of Machine Learning Research",
    "Proceedings of the National Academy of Sciences",
    "Communications of the ACM",
    None,
]


def _title(rng: random.Random, i: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 10))]
    words.insert(rng.randint(1, len(words) - 1), rng.choice(LINKS))
    return " ".join(words).capitalize() + f" {i}"


def _author(rng: random.Random) -> dict[str, Any]:
    return {"given": rng.choice(GIVEN), "family": f"{rng.choice(FAMILY)}{rng.randint(1, 400)}"}


def records(count: int, seed: int) -> list[dict[str, Any]]:
    """Paper records: 1-5 authors, a year or year-month, a venue for most, a DOI for about
    three in four, an arXiv id for about one in three, 0-3 tags, an abstract for some; about
    one in eight is another copy of an earlier work (a later arXiv version, or the published
    version of a preprint) so that grouping happens. Identifiers never repeat."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    preprints: list[dict[str, Any]] = []  # earlier preprints (arXiv, no DOI) still unpublished
    versions: dict[str, int] = {}  # arXiv id -> latest version listed
    for i in range(count):
        year = rng.randint(1995, 2025)
        record: dict[str, Any] = {
            "id": i,
            "citekey": f"key{i}",
            "kind": "paper",
            "title": _title(rng, i),
            "authors": [_author(rng) for _ in range(rng.randint(1, 5))],
            "et_al": rng.random() < 0.05,
            "date": f"{year}-{rng.randint(1, 12):02d}" if rng.random() < 0.6 else str(year),
            "venue": rng.choice(VENUES),
            "doi": None,
            "arxiv": None,
            "url": None,
            "abstract": (
                " ".join(
                    rng.choice(WORDS + LINKS) for _ in range(rng.randint(40, 120))
                ).capitalize()
                if rng.random() < 0.3
                else None
            ),
            "tags": rng.sample(
                ["bench", "theory", "empirical", "survey", "deep"], rng.randint(0, 3)
            ),
        }
        roll = rng.random()
        if preprints and roll < 0.06:  # a later arXiv version of an earlier preprint
            earlier = rng.choice(preprints)
            arxiv_id = earlier["arxiv"].split("v")[0]
            versions[arxiv_id] += 1 + i % 2
            record.update(
                kind="preprint",
                title=earlier["title"],
                authors=earlier["authors"],
                arxiv=f"{arxiv_id}v{versions[arxiv_id]}",
                venue=None,
            )
            record["citekey"] = f"key{i}v"
        elif preprints and roll < 0.12:  # the published version of an earlier preprint
            earlier = preprints.pop(rng.randrange(len(preprints)))
            record.update(
                title=earlier["title"],
                authors=earlier["authors"],
                date=str(int(earlier["date"][:4]) + rng.randint(0, 2)),
                doi=f"10.5555/bench.{i}",
            )
        elif roll < 0.40:  # a preprint: arXiv id, no DOI
            record.update(
                kind="preprint",
                arxiv=f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}v1",
                venue=None,
            )
            preprints.append(record)
            versions[record["arxiv"][:-2]] = 1
        else:
            record["doi"] = f"10.{rng.randint(1000, 9999)}/bench.{i}"
            if rng.random() < 0.1:
                record["url"] = f"https://example.org/papers/{i}"
        out.append(record)
    return out


def payload(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "id" and v is not None} for r in data]


# ---------------------------------------------------------------- the app with a write token


def _fresh(path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{path}", job_runner="none")
    migrations.upgrade(settings)
    return settings


def _client(settings: Settings) -> TestClient:
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session, session.begin():
        token = tokens.create(session, "bench", ["write"])
    engine.dispose()
    return TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"})


def _warm_up(client: TestClient) -> None:
    """First requests build the routes and their validators: not part of any import."""
    client.post("/api/v1/sources", json=[])
    client.post("/api/v1/sources/import", content=b"", params={"format": "bibtex"})


def timed_post(client: TestClient, path: str, **kwargs: Any) -> tuple[float, dict[str, Any]]:
    elapsed, _cpu, body = _timed_post(client, path, **kwargs)
    return elapsed, body


def _timed_post(client: TestClient, path: str, **kwargs: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, answer) of one request."""
    started, cpu = time.perf_counter(), time.process_time()
    response = client.post(path, **kwargs)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert response.status_code in (200, 201), response.text[:500]
    return elapsed, cpu, response.json()


def _batches(data: list[dict[str, Any]], fmt: str) -> list[tuple[str, dict[str, Any]]]:
    """Requests of at most MAX_ITEMS records each, encoded before the clock starts."""
    out = []
    for start in range(0, len(data), MAX_ITEMS):
        chunk = data[start : start + MAX_ITEMS]
        if fmt == "json":
            body = json.dumps(payload(chunk)).encode()
            out.append(
                (
                    "/api/v1/sources",
                    {"content": body, "headers": {"Content-Type": "application/json"}},
                )
            )
        else:
            text = {"bibtex": bibtex.dump, "csljson": csljson.dump}[fmt](chunk)
            out.append(
                (
                    "/api/v1/sources/import",
                    {"content": text.encode(), "params": {"format": fmt, "mode": "all"}},
                )
            )
    return out


def run(count: int) -> dict[str, float]:
    """Records per second of one request per format (up to MAX_ITEMS records)."""
    count = min(count, MAX_ITEMS)
    data = records(count, 0)
    results: dict[str, float] = {}
    for name in ("json", "bibtex", "csljson"):
        ((path, kwargs),) = _batches(data, name)
        with tempfile.TemporaryDirectory() as tmp, _client(_fresh(Path(tmp) / "i.db")) as client:
            _warm_up(client)
            elapsed, body = timed_post(client, path, **kwargs)
        assert body["created"] == count, (name, body["created"])
        results[f"{name}_records_per_s"] = round(count / elapsed)
        results[f"{name}_seconds"] = round(elapsed, 2)
    return results


# ---------------------------------------------------------------- import vs raw executemany


def _tables(con: sqlite3.Connection) -> list[str]:
    """Ordinary tables, in an order where parents come before children (FK dependency)."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'search_index%' AND name != 'alembic_version' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
        )
    ]
    parents = {
        n: {r[2] for r in con.execute(f"PRAGMA foreign_key_list('{n}')")} - {n} for n in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        ordered += ready or [n for n in names if n not in ordered]
    return ordered


def _max_rowids(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as con:
        return {
            t: con.execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0]
            for t in _tables(con)
        }


def _new_rows(
    path: Path, before: dict[str, int]
) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every row inserted after `before` (max rowid per table): columns and values."""
    out = {}
    with sqlite3.connect(path) as con:
        for t in _tables(con):
            cur = con.execute(f"SELECT * FROM {t} WHERE rowid > ? ORDER BY rowid", (before[t],))
            rows = cur.fetchall()
            if rows:
                out[t] = ([d[0] for d in cur.description], rows)
    return out


def _raw_insert(
    path: Path, rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
) -> tuple[float, float]:
    """Wall and CPU seconds to insert `rows` with executemany in one transaction, with the
    connection settings the app uses (WAL, synchronous=NORMAL, foreign keys on)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    with sqlite3.connect(path) as probe:
        order = _tables(probe)
    started, cpu = time.perf_counter(), time.process_time()
    con.execute("BEGIN IMMEDIATE")
    for table in order:
        if table not in rows:
            continue
        columns, values = rows[table]
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
    con.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    con.close()
    return elapsed, cpu


def compare(count: int, seed: int = 0, fmt: str = "json") -> dict[str, float]:
    """Import `count` records through the HTTP import path (JSON batches to POST /sources, or
    BibTeX files to POST /sources/import), then insert exactly the rows it wrote with a raw
    sqlite3 executemany into a second fresh database; rates in sources per second."""
    requests = _batches(records(count, seed), fmt)  # encoded: no records left in memory
    with tempfile.TemporaryDirectory() as tmp:
        imported, raw = Path(tmp) / "import.db", Path(tmp) / "raw.db"
        settings = _fresh(imported)
        _fresh(raw)
        with _client(settings) as client:
            _warm_up(client)
            before = _max_rowids(imported)
            import_seconds, import_cpu, created = 0.0, 0.0, 0
            for path, kwargs in requests:
                elapsed, cpu, body = _timed_post(client, path, **kwargs)
                import_seconds += elapsed
                import_cpu += cpu
                created += body["created"]
        written = _new_rows(imported, before)
        written.pop("api_tokens", None)  # the bench's own token, not imported data
        sources = len(written["sources"][1])
        assert sources == created == count, (sources, created, count)
        raw_seconds, raw_cpu = _raw_insert(raw, written)
        with sqlite3.connect(raw) as con:
            assert con.execute("SELECT count(*) FROM sources").fetchone()[0] == count
            indexed = con.execute("SELECT count(*) FROM search_index").fetchone()[0]
            assert indexed == count, indexed
    result = {
        "sources": float(count),
        "rows_written": float(sum(len(v) for _c, v in written.values())),
        "import_seconds": round(import_seconds, 3),
        "raw_executemany_seconds": round(raw_seconds, 3),
        "import_rows_per_s": round(count / import_seconds),
        "raw_executemany_rows_per_s": round(count / raw_seconds),
        "import_ratio": round(raw_seconds / import_seconds, 3),
        # CPU seconds of this process: steadier than wall time when other work shares the CPUs.
        "import_cpu_seconds": round(import_cpu, 3),
        "raw_executemany_cpu_seconds": round(raw_cpu, 3),
        "import_cpu_ratio": round(raw_cpu / import_cpu, 3),
    }
    result.update({f"rows_{t}": float(len(v)) for t, (_c, v) in written.items()})
    return result


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fastest import and the fastest raw insert of several runs, and their ratios."""
    out = dict(runs[0])
    for kind in ("import", "raw_executemany"):
        out[f"{kind}_seconds"] = min(r[f"{kind}_seconds"] for r in runs)
        out[f"{kind}_cpu_seconds"] = min(r[f"{kind}_cpu_seconds"] for r in runs)
        out[f"{kind}_rows_per_s"] = round(out["sources"] / out[f"{kind}_seconds"])
    out["import_ratio"] = round(out["raw_executemany_seconds"] / out["import_seconds"], 3)
    out["import_cpu_ratio"] = round(
        out["raw_executemany_cpu_seconds"] / out["import_cpu_seconds"], 3
    )
    out["runs"] = float(len(runs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--compare", action="store_true", help="import vs raw executemany (design target)"
    )
    parser.add_argument("--format", choices=("json", "bibtex", "csljson"), default="json")
    parser.add_argument(
        "--repeat", type=int, default=1, help="with --compare: runs; the fastest of each side"
    )
    args = parser.parse_args()
    if args.compare:
        runs = [compare(args.count, args.seed, args.format) for _ in range(args.repeat)]
        result = best(runs)
    else:
        result = run(args.count)
    for key, value in result.items():
        print(f"{key:<28} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
