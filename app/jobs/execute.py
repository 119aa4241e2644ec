"""Runs one queued experiment run to its end, in whatever process calls it.

Used by the embedded process pool (and by a task-engine worker): it claims the row, runs
the experiment with a progress callback that writes to the row (and stops the run if a
cancel was requested), and stores the result, the failure or the cancellation. A heartbeat
thread keeps the row fresh during long steps, so a dead worker can be told from a slow one.
"""

import os
import threading
import time
import traceback
from functools import cache

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.experiments.registry import get_experiment
from app.jobs import store
from app.models.run import ExperimentRun

PROGRESS_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 5.0


class Stop(Exception):
    """Raised from the progress callback to end a run early; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "cancel", "lost" or "time limit"


@cache
def _factory(database_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(Settings(database_url=database_url)))


class _Reporter:
    """The progress callback: throttled writes, the cancel check and the time limit."""

    def __init__(self, factory: sessionmaker[Session], run_id: int, limit_s: float) -> None:
        self.factory, self.run_id = factory, run_id
        self.started, self.last = time.monotonic(), 0.0
        self.limit_s = limit_s

    def __call__(self, fraction: float, message: str) -> None:
        at = time.monotonic()
        if at - self.started > self.limit_s:
            raise Stop("time limit")
        if at - self.last < PROGRESS_EVERY_S:
            return
        self.last = at
        try:
            stop = store.report(self.factory, self.run_id, fraction, message)
        except OperationalError:  # database busy: skip this update, the next one retries
            return
        if stop:
            raise Stop(stop)


def _heartbeat(factory: sessionmaker[Session], run_id: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_EVERY_S):
        try:
            store.beat(factory, run_id)
        except Exception:  # a missed beat only makes the run look older; keep beating
            continue


def execute(
    database_url: str, run_id: int, auto_endorse: bool = False, limit_s: float = 3600.0
) -> str:
    """Claims and runs `run_id`; returns its final status (or "skipped" if not claimed)."""
    factory = _factory(database_url)
    try:
        if not store.claim(factory, run_id):
            return "skipped"
    except OperationalError:  # database busy: the run stays queued for the next sweep
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
        reporter = _Reporter(factory, run_id, limit_s)
        result = spec.compute(spec.params.model_validate(params), seed, reporter)
    except Stop as halt:
        elapsed = time.monotonic() - started
        if halt.reason == "cancel":
            store.cancelled(factory, run_id, elapsed)
            return "cancelled"
        if halt.reason == "time limit":
            store.fail(
                factory, run_id, f"stopped: over the {limit_s:g} s time limit", elapsed, mine=True
            )
            return "failed"
        return "lost"  # someone else owns the run now; leave it alone
    except Exception as exc:
        store.fail(factory, run_id, _describe(exc), time.monotonic() - started, mine=True)
        return "failed"
    finally:
        stop.set()
    then = _auto_endorse if auto_endorse else None
    if not store.succeed(factory, run_id, result, time.monotonic() - started, then=then):
        # Cancelled (or taken away) while the last step ran: the request wins.
        return "cancelled" if store.cancelled(factory, run_id) else "lost"
    return "succeeded"


def watch_parent(parent_pid: int) -> None:
    """Pool initializer: a worker whose server died exits instead of idling forever."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(2.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" (at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _auto_endorse(session: Session, run_id: int) -> None:
    from app.services.runs import endorse_if_registered

    session.flush()
    endorse_if_registered(session, run_id)
