"""Publishing and rendering a version of a 1,000-item thread (SQLite, in process).

python scripts/bench/versions.py [--items 1000] [--renders 50]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core import migrations
from app.core.config import Settings
from app.main import create_app


def run(items: int, renders: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/versions.db")
        migrations.upgrade(settings)
        with TestClient(create_app(settings)) as client:
            thread = client.post("/api/v1/threads", json={"title": "Bench thread"}).json()
            sources = [
                {"title": f"Paper {i} on generalization", "year": 2000 + i % 26}
                for i in range(items)
            ]
            client.post("/api/v1/sources", params={"thread_id": thread["id"]}, json=sources)
            for i in range(100):
                client.post(
                    "/api/v1/events",
                    json={
                        "date": f"{2000 + i % 26}",
                        "text": f"e{i}",
                        "thread_id": thread["id"],
                        "source_ids": [i + 1],
                    },
                )
            url = f"/api/v1/threads/{thread['id']}/versions"
            started = time.perf_counter()
            published = client.post(url, json={"narrative": "Bench [1]."})
            publish_s = time.perf_counter() - started
            assert published.status_code == 201, published.text
            timings: dict[str, list[float]] = {"json": [], "md": [], "html": []}
            for fmt in timings:
                for _ in range(renders):
                    t = time.perf_counter()
                    client.get(f"{url}/1", params={"format": fmt})
                    timings[fmt].append((time.perf_counter() - t) * 1000)
    return {
        "items": items,
        "publish_ms": round(publish_s * 1000, 1),
        **{f"render_{k}_p50_ms": round(statistics.median(v), 2) for k, v in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
    for key, value in run(args.items, args.renders).items():
        print(f"{key:<22} {value}")


if __name__ == "__main__":
    main()
