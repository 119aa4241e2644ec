"""Runs one queued experiment run to its end, in whatever process calls it.

Used by the embedded process pool (and by a task-engine worker): it claims the row, runs
the experiment with a progress callback that writes to the row (and stops the run if a
cancel was requested), and stores the result, the failure or the cancellation. A heartbeat
thread keeps the row fresh during long steps, so a dead worker can be told from a slow one.
"""

import threading
import time
import traceback
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.experiments.registry import get_experiment
from app.jobs import store
from app.models.run import ExperimentRun

PROGRESS_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 5.0


class Cancelled(Exception):
    """Raised from the progress callback when a cancel was requested."""


@cache
def _factory(database_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(Settings(database_url=database_url)))


class _Reporter:
    """The progress callback: throttled writes, and the cancel check."""

    def __init__(self, factory: sessionmaker[Session], run_id: int) -> None:
        self.factory, self.run_id = factory, run_id
        self.last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        at = time.monotonic()
        if at - self.last < PROGRESS_EVERY_S:
            return
        self.last = at
        if store.report(self.factory, self.run_id, fraction, message):
            raise Cancelled()


def _heartbeat(factory: sessionmaker[Session], run_id: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_EVERY_S):
        try:
            store.beat(factory, run_id)
        except Exception:  # a missed beat only makes the run look older; keep beating
            continue


def execute(database_url: str, run_id: int, auto_endorse: bool = False) -> str:
    """Claims and runs `run_id`; returns its final status (or "skipped" if not claimed)."""
    factory = _factory(database_url)
    if not store.claim(factory, run_id):
        return "skipped"
    with factory() as session:
        run = session.get(ExperimentRun, run_id)
        assert run is not None
        name, params, seed = run.experiment, run.params, run.seed
    stop = threading.Event()
    beater = threading.Thread(target=_heartbeat, args=(factory, run_id, stop), daemon=True)
    beater.start()
    started = time.monotonic()
    try:
        spec = get_experiment(name)
        if spec is None:
            raise LookupError(f"experiment {name!r} is not registered in this worker")
        result = spec.compute(spec.params.model_validate(params), seed, _Reporter(factory, run_id))
    except Cancelled:
        store.cancelled(factory, run_id)
        return "cancelled"
    except Exception as exc:
        store.fail(factory, run_id, _describe(exc), time.monotonic() - started)
        return "failed"
    finally:
        stop.set()
    store.succeed(factory, run_id, result, time.monotonic() - started)
    if auto_endorse:
        _auto_endorse(factory, run_id)
    return "succeeded"


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" (at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _auto_endorse(factory: sessionmaker[Session], run_id: int) -> None:
    from app.services.runs import endorse_if_registered

    with factory() as session, session.begin():
        endorse_if_registered(session, run_id)
