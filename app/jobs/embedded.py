"""The embedded job runner: a local process pool beside the API.

Training runs in child processes, so the API's event loop and threads stay free. The pool
is created on first use. A sweeper thread re-checks the database now and then: it requeues
runs whose worker died (a killed child, a restarted server) and submits queued runs that no
process is working on; the run row stays the single source of truth.
"""

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs import store
from app.jobs.execute import execute, watch_parent

log = logging.getLogger(__name__)


class EmbeddedRunner:
    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings, self.factory = settings, factory
        self.pool: ProcessPoolExecutor | None = None
        self.submitted: dict[int, ProcessPoolExecutor] = {}  # run id → the pool running it
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sweeper: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> None:
        self.sweep()
        self.sweeper = threading.Thread(target=self._sweep_loop, name="job-sweeper", daemon=True)
        self.sweeper.start()

    def stop(self) -> None:
        """Stops the sweeper and the children; runs they held go back to the queue."""
        self.stopping.set()
        with self.lock:
            pool, self.pool = self.pool, None
            held = list(self.submitted)
            self.submitted.clear()
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        for run_id in held:
            store.requeue(self.factory, run_id, "requeued: the server stopped while it ran")

    # --- work

    def submit(self, run_id: int) -> None:
        with self.lock:
            if self.stopping.is_set() or run_id in self.submitted:
                return
            if self.pool is None:
                self.pool = ProcessPoolExecutor(
                    max_workers=self.settings.job_workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=watch_parent,
                    initargs=(os.getpid(),),
                )
            pool = self.pool
            future = pool.submit(
                execute,
                self.settings.database_url,
                run_id,
                self.settings.auto_endorse_presets,
                self.settings.job_time_limit_s,
            )
            self.submitted[run_id] = pool
        future.add_done_callback(lambda f: self._finished(run_id, f, pool))

    def _finished(self, run_id: int, future: "Future[str]", pool: ProcessPoolExecutor) -> None:
        with self.lock:
            if self.submitted.get(run_id) is pool:
                del self.submitted[run_id]
        if future.cancelled() or self.stopping.is_set():
            return
        error = future.exception()
        if error is None:
            return
        if isinstance(error, BrokenProcessPool):
            # A child died (killed, out of memory). Its run is requeued or failed by the
            # sweep, which sees the dead process; runs that never started are resubmitted.
            with self.lock:
                if self.pool is not pool:
                    return  # another of its futures already replaced the pool
                self.pool = None
                self.submitted = {k: p for k, p in self.submitted.items() if p is not pool}
            pool.shutdown(wait=False, cancel_futures=True)
            self.sweep()
            return
        store.fail(self.factory, run_id, f"worker process failed: {type(error).__name__}: {error}")

    def sweep(self) -> None:
        try:
            queued = store.recover(
                self.factory, self.settings.job_stale_after_s, self.settings.job_max_attempts
            )
        except Exception:
            log.exception("job sweep failed; will retry")
            return
        for run_id in queued:
            self.submit(run_id)

    def _sweep_loop(self) -> None:
        while not self.stopping.wait(self.settings.job_sweep_every_s):
            self.sweep()
