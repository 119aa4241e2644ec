"""Job state transitions on the run row, each one a short transaction.

Every transition is a conditional UPDATE (`… WHERE status = 'queued'`, …), so two processes
can race for the same run and exactly one wins; nothing is held in memory between steps.
"""

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.experiments.base import Result
from app.models.run import ExperimentRun, RunStatus

Factory = sessionmaker[Session]


def now() -> datetime:
    return datetime.now(UTC)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _update(
    factory: Factory,
    run_id: int,
    *where: Any,
    then: Callable[[Session, int], Any] | None = None,
    **values: Any,
) -> bool:
    """Applies `values` if `where` holds; `then` runs in the same transaction if it did."""
    with factory() as session, session.begin():
        stmt = update(ExperimentRun).where(ExperimentRun.id == run_id, *where)
        changed = bool(session.execute(stmt.values(updated_at=now(), **values)).rowcount)  # type: ignore[attr-defined]
        if changed and then is not None:
            then(session, run_id)
        return changed


def claim(factory: Factory, run_id: int) -> bool:
    """queued → running for this process; False if another process got it first."""
    at = now()
    return _update(
        factory,
        run_id,
        ExperimentRun.status == RunStatus.queued,
        ExperimentRun.cancel_requested.is_(False),
        status=RunStatus.running,
        worker=worker_id(),
        started_at=at,
        heartbeat_at=at,
        attempts=ExperimentRun.attempts + 1,
        progress=0.0,
        message="starting",
        error=None,
    )


def _mine(run_id: int) -> tuple[Any, ...]:
    """Conditions for a worker's write: the run is still running, and running here."""
    return (
        ExperimentRun.id == run_id,
        ExperimentRun.status == RunStatus.running,
        ExperimentRun.worker == worker_id(),
    )


def report(factory: Factory, run_id: int, fraction: float, message: str) -> str | None:
    """Writes progress and the heartbeat. Returns why the worker should stop: "cancel" if a
    cancel was requested, "lost" if the run is no longer this worker's (it was requeued,
    failed or cancelled under it); None to go on."""
    with factory() as session, session.begin():
        stmt = (
            update(ExperimentRun)
            .where(*_mine(run_id))
            .values(
                progress=min(1.0, max(0.0, float(fraction))),
                message=message[:300],
                heartbeat_at=now(),
                updated_at=now(),
            )
            .returning(ExperimentRun.cancel_requested)
        )
        found = session.execute(stmt).first()
    if found is None:
        return "lost"
    return "cancel" if found[0] else None


def beat(factory: Factory, run_id: int) -> None:
    _update(factory, run_id, *_mine(run_id)[1:], heartbeat_at=now())


def succeed(
    factory: Factory,
    run_id: int,
    result: Result,
    duration_s: float,
    then: Callable[[Session, int], Any] | None = None,
) -> bool:
    """Stores the result, unless the run was cancelled or taken away meanwhile; `then`
    (automatic endorsement) commits with it, so no reader sees one without the other."""
    return _update(
        factory,
        run_id,
        *_mine(run_id)[1:],
        ExperimentRun.cancel_requested.is_(False),
        then=then,
        status=RunStatus.succeeded,
        progress=1.0,
        message="finished",
        verdict=result.verdict,
        metrics=result.metrics,
        series=result.series,
        checks=[c.model_dump() for c in result.checks],
        finished_at=now(),
        duration_s=round(duration_s, 3),
    )


def fail(
    factory: Factory,
    run_id: int,
    error: str,
    duration_s: float | None = None,
    *,
    mine: bool = False,
) -> bool:
    """running or queued → failed with the reason (`mine`: only if running in this process)."""
    where = _mine(run_id)[1:] if mine else ()
    return _update(
        factory,
        run_id,
        ExperimentRun.status.in_([RunStatus.running, RunStatus.queued]),
        *where,
        status=RunStatus.failed,
        error=error[:4000],
        message="failed",
        finished_at=now(),
        duration_s=None if duration_s is None else round(duration_s, 3),
    )


def cancelled(factory: Factory, run_id: int, duration_s: float | None = None) -> bool:
    return _update(
        factory,
        run_id,
        ExperimentRun.status.in_([RunStatus.running, RunStatus.queued]),
        ExperimentRun.cancel_requested.is_(True),
        status=RunStatus.cancelled,
        message="cancelled on request",
        finished_at=now(),
        duration_s=None if duration_s is None else round(duration_s, 3),
    )


def requeue(factory: Factory, run_id: int, reason: str, *, mine: bool = False) -> bool:
    """running → queued (`mine`: only if running in this process)."""
    where = _mine(run_id)[2:] if mine else ()
    return _update(
        factory,
        run_id,
        ExperimentRun.status == RunStatus.running,
        *where,
        status=RunStatus.queued,
        message=reason[:300],
        worker=None,
        progress=0.0,
    )


def _process_alive(worker: str | None) -> bool | None:
    """For a worker on this host: whether its process still exists; None if elsewhere."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(factory: Factory, stale_after_s: float, max_attempts: int) -> list[int]:
    """Running jobs whose worker is gone go back to the queue, or fail once they have used
    their attempts; cancelled-while-queued jobs are closed. Returns the queued run ids."""
    limit = now() - timedelta(seconds=stale_after_s)
    with factory() as session:
        running = session.execute(
            select(
                ExperimentRun.id,
                ExperimentRun.worker,
                ExperimentRun.heartbeat_at,
                ExperimentRun.attempts,
            ).where(ExperimentRun.status == RunStatus.running)
        ).all()
        queued: list[tuple[int, bool]] = [
            (r[0], r[1])
            for r in session.execute(
                select(ExperimentRun.id, ExperimentRun.cancel_requested)
                .where(ExperimentRun.status == RunStatus.queued)
                .order_by(ExperimentRun.id)
            )
        ]
    for run_id, worker, heartbeat, attempts in running:
        beat_at = (
            heartbeat if heartbeat is None or heartbeat.tzinfo else heartbeat.replace(tzinfo=UTC)
        )
        fresh = beat_at is not None and beat_at > limit
        # A dead process on this host is lost at once; any worker whose heartbeat stopped is
        # lost too, even if its process id exists (ids are reused, processes hang).
        if fresh and _process_alive(worker) is not False:
            continue
        why = f"worker {worker} stopped while running it (attempt {attempts} of {max_attempts})"
        if attempts >= max_attempts:
            fail(factory, run_id, f"gave up: {why}")
        elif requeue(factory, run_id, f"requeued: {why}"):
            queued.append((run_id, False))
    todo = []
    for run_id, cancel in queued:
        if cancel:
            cancelled(factory, run_id)
        else:
            todo.append(run_id)
    return todo


def queued_attempts(factory: Factory, run_ids: list[int]) -> dict[int, int]:
    """Attempts used so far by those of `run_ids` that are still queued."""
    if not run_ids:
        return {}
    with factory() as session:
        rows = session.execute(
            select(ExperimentRun.id, ExperimentRun.attempts)
            .where(ExperimentRun.id.in_(run_ids), ExperimentRun.status == RunStatus.queued)
            .order_by(ExperimentRun.id)
        )
        return {run_id: attempts for run_id, attempts in rows}
