"""Intake rates: sources per second through POST /sources (JSON) and POST /sources/import
(BibTeX, CSL-JSON), on a fresh SQLite database, in process (no network hop).

    python scripts/bench/intake.py [--count 10000]
"""

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core import migrations
from app.core.config import Settings
from app.main import create_app
from app.services.formats import bibtex, csljson

WORDS = [
    "learning",
    "generalization",
    "memorization",
    "kernel",
    "margin",
    "noise",
    "scaling",
    "bound",
    "network",
]


def records(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + f" {i}"
        out.append(
            {
                "id": i,
                "citekey": f"key{i}",
                "kind": "paper",
                "title": title,
                "authors": [
                    {"given": "Ada", "family": f"Müller{i % 500}"},
                    {"given": None, "family": "Ng"},
                ],
                "et_al": False,
                "date": f"{rng.randint(1990, 2025)}-{rng.randint(1, 12):02d}",
                "venue": "Journal of Tests & Benchmarks",
                "doi": f"10.5555/bench.{i}",
                "arxiv": None,
                "url": None,
                "abstract": None,
                "tags": ["bench"],
            }
        )
    return out


def timed_post(client: TestClient, path: str, **kwargs: object) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post(path, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 201), response.text[:500]
    return elapsed, response.json()


def run(count: int) -> dict[str, float]:
    data = records(count, 0)
    payload = [{k: v for k, v in r.items() if k != "id" and v is not None} for r in data]
    results = {}
    files = {
        "json": ("/api/v1/sources", {"json": payload}),
        "bibtex": (
            "/api/v1/sources/import",
            {"content": bibtex.dump(data).encode(), "params": {"format": "bibtex"}},
        ),
        "csljson": (
            "/api/v1/sources/import",
            {"content": csljson.dump(data).encode(), "params": {"format": "csljson"}},
        ),
    }
    for name, (path, kwargs) in files.items():
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(database_url=f"sqlite:///{tmp}/intake.db")
            migrations.upgrade(settings)
            with TestClient(create_app(settings)) as client:
                elapsed, body = timed_post(client, path, **kwargs)
        created = body["created"]
        assert created == count, (name, created)
        results[f"{name}_records_per_s"] = round(count / elapsed)
        results[f"{name}_seconds"] = round(elapsed, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    result = run(args.count)
    for key, value in result.items():
        print(f"{key:<26} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
