"""Publishing and rendering a version of a 1,000-item thread, on a copy of a benchmark set
(so that the cost's growth with the size of the database shows).

The copy gets a new thread of 1,000 sources of the set and 100 timeline events citing them
(inserted directly, not timed) and a write token. Then, through the API: publish version 1,
publish version 2, and render version 2 as JSON, Markdown and HTML (the first render of
each format, and the median of the repeats, which the read cache may answer).

    python scripts/bench/versions.py --database var/bench/set-1.db [--items 1000] [--renders 50]

Standalone it runs the app in process; scripts/bench/run.py runs `measure` against the
production server instead.
"""

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.models import Base
from app.services import tokens
from scripts.bench.generate import require_set

FORMATS = ("json", "md", "html")


def prepare(database: Path, items: int, events: int, seed: int) -> tuple[int, str]:
    """Adds the bench thread and a write token to `database` (a copy: it is written);
    returns the thread id and the token."""
    rng = random.Random(seed)
    tables = Base.metadata.tables
    engine = make_engine(Settings(database_url=f"sqlite:///{database.resolve()}"))
    with engine.begin() as conn:
        sources = conn.scalar(select(func.max(tables["sources"].c.id))) or 0
        thread = (conn.scalar(select(func.max(tables["threads"].c.id))) or 0) + 1
        first_event = (conn.scalar(select(func.max(tables["timeline_events"].c.id))) or 0) + 1
        chosen = rng.sample(range(1, sources + 1), min(items, sources))
        conn.execute(
            insert(tables["threads"]),
            [{"id": thread, "slug": f"bench-versions-{thread}", "title": "Bench versions"}],
        )
        conn.execute(
            insert(tables["thread_items"]),
            [{"thread_id": thread, "source_id": s, "found_via": "bench"} for s in chosen],
        )
        conn.execute(
            insert(tables["timeline_events"]),
            [
                {
                    "id": first_event + k,
                    "slug": f"bench-versions-{thread}-event-{k}",
                    "thread_id": thread,
                    "date": date(2000 + k % 26, 1, 1),
                    "date_precision": "year",
                    "text": f"Event {k}",
                    "position": k,
                }
                for k in range(events)
            ],
        )
        conn.execute(
            insert(tables["event_sources"]),
            [
                {"event_id": first_event + k, "source_id": chosen[k % len(chosen)], "position": 0}
                for k in range(events)
            ],
        )
    with make_sessionmaker(engine)() as session, session.begin():
        token = tokens.create(session, "bench-versions", ["write"])
    engine.dispose()
    return thread, token


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def measure(client: httpx.Client, thread: int, renders: int) -> dict[str, float]:
    """Publish two versions of `thread` and render the second (`client` sends the token)."""
    url = f"/api/v1/threads/{thread}/versions"
    published = []
    for narrative in ("Bench [1].", "Bench again [1] [2]."):
        started = time.perf_counter()
        response = client.post(url, json={"narrative": narrative})
        published.append(ms_since(started))
        if response.status_code != 201:
            raise RuntimeError(f"publish: {response.status_code} {response.text[:500]}")
    result: dict[str, float] = {
        "items": float(response.json()["item_count"]),
        "publish_ms": round(published[0], 1),
        "publish_next_ms": round(published[1], 1),
    }
    for fmt in FORMATS:
        timings = []
        for _ in range(renders + 1):
            started = time.perf_counter()
            response = client.get(f"{url}/2", params={"format": fmt})
            timings.append(ms_since(started))
            response.raise_for_status()
        result[f"render_{fmt}_first_ms"] = round(timings[0], 2)
        result[f"render_{fmt}_p50_ms"] = round(statistics.median(timings[1:]), 2)
        result[f"render_{fmt}_kb"] = round(len(response.content) / 1024, 1)
    return result


def run(database: Path, items: int, renders: int, seed: int = 0) -> dict[str, Any]:
    """On a temporary copy of `database`, with the app in process."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "versions.db"
        shutil.copyfile(database, copy)
        thread, token = prepare(copy, items, 100, seed)
        settings = Settings(database_url=f"sqlite:///{copy}", job_runner="none")
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings), headers=headers) as client:
            return measure(client, thread, renders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=Path("var/bench/set-1.db"))
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
    require_set(args.database)
    for key, value in run(args.database, args.items, args.renders).items():
        print(f"{key:<22} {value}")


if __name__ == "__main__":
    main()
