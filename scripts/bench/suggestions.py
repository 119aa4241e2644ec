"""Triage suggestions on the seed debate: quality (hold-back of every work tied to a problem
or tension, hits in the top k, with random and majority baselines) and time per item, for
the embedding model (when the `embeddings` extra is installed) and for full-text similarity.

    python scripts/bench/suggestions.py [--k 1 3 5] [--title-only]

Builds a fresh SQLite database in a temporary folder and loads the seed; prints one line
per method and k. The first embedding pass includes loading the model and embedding every
candidate text once (stored); the figures after it are the steady state.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core import migrations
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.services import embeddings, holdout
from app.services.seed import load_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--title-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/seed.db", environment="test")
        migrations.upgrade(settings)
        factory = make_sessionmaker(make_engine(settings))
        with factory() as session:
            load_seed(session, settings.seeds_dir)
            session.commit()
        modes = (["auto"] if embeddings.available() else []) + ["off"]
        if not embeddings.available():
            print("embeddings extra not installed: full text only")
        print(
            f"{'method':<30} {'k':>2} {'topics':>16} {'tensions':>16} {'random':>14} "
            f"{'majority':>14} {'ms/item':>8}"
        )
        for mode in modes:
            for k in args.k:
                started = time.perf_counter()
                r = holdout.evaluate(factory, mode, k=k, with_note=not args.title_only)
                ms = (time.perf_counter() - started) * 1000 / r["topics"]["works"]
                t, s = r["topics"], r["tensions"]
                print(
                    f"{r['method']:<30} {k:>2} "
                    f"{t['hits']:>3}/{t['works']:<3} {t['hit_rate']:6.1%}   "
                    f"{s['hits']:>3}/{s['works']:<3} {s['hit_rate']:6.1%}   "
                    f"{t['random_baseline']:6.1%}/{s['random_baseline']:6.1%} "
                    f"{t['majority_baseline']:6.1%}/{s['majority_baseline']:6.1%} {ms:8.1f}"
                )


if __name__ == "__main__":
    main()
