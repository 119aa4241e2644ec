"""Jobs on Dramatiq with Redis: the API enqueues run ids, `atlas worker` processes run them.

The run row stays the single source of truth; a message only says "look at run N". The
worker's actor calls `execute()`, which claims the row with a conditional UPDATE, so a
duplicate or late message is harmless (it returns "skipped"). Hence:

- Dramatiq's own retries are off (`max_retries=0`, and the actor never raises): attempts
  are counted on the row (`claim` adds one) and a lost run is retried by `store.recover`
  in the API's sweeper, which re-enqueues it, and failed once it used JOB_MAX_ATTEMPTS.
- Messages are sent after the row is committed (the route calls `submit` after `write`).
  Should one arrive before its row is visible, `claim` finds nothing and the sweeper sends
  it again later (see `DramatiqRunner.sweep`).
- A worker stopped with SIGTERM interrupts its run (Dramatiq's shutdown notification),
  puts the row back in the queue and sends its message again. A worker killed outright
  leaves its row `running`: the sweeper requeues it when the process is gone (same host)
  or its heartbeat is older than JOB_STALE_AFTER_S (any host).
- Dramatiq's time limit and age limit are not installed: JOB_TIME_LIMIT_S is enforced by
  `execute()` itself, and a queued run waits as long as it must.

Workers read DATABASE_URL (and JOB_TIME_LIMIT_S, AUTO_ENDORSE_PRESETS) from their own
environment, never from the message.
"""

import logging
import os
import sys
import threading
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries, Shutdown, ShutdownNotifications
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import PROJECT_ROOT, Settings, get_settings
from app.jobs import store
from app.jobs.execute import _factory, execute

log = logging.getLogger(__name__)

ACTOR_NAME = "run_experiment"
WORKER_MODULE = "app.jobs.dramatiq_worker"


# --------------------------------------------------------------- broker and actor


def make_broker(settings: Settings) -> RedisBroker:
    """A Redis broker with only the middleware we rely on (no retries, no time limits)."""
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=3, socket_timeout=30, health_check_interval=30
    )
    return RedisBroker(
        client=client,
        middleware=[ShutdownNotifications(notify_shutdown=True), Retries(max_retries=0)],
    )


def declare_actor(broker: RedisBroker, settings: Settings) -> dramatiq.Actor[[int], None]:
    return dramatiq.Actor(
        run_experiment,
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=settings.dramatiq_queue,
        priority=0,
        options={"max_retries": 0, "notify_shutdown": True},
    )


def run_experiment(run_id: int) -> None:
    """The actor, in a worker process: runs the job with this process's own settings."""
    settings = get_settings()
    try:
        status = execute(
            settings.database_url,
            run_id,
            settings.auto_endorse_presets,
            settings.job_time_limit_s,
        )
    except Shutdown:
        _hand_back(settings, run_id)
        return
    except Exception:
        # The row is left running with no heartbeat: the sweeper retries or fails it.
        log.exception("run %s: the worker failed outside the experiment", run_id)
        return
    log.info("run %s: %s", run_id, status)


def _hand_back(settings: Settings, run_id: int) -> None:
    """The worker is stopping: the run goes back to the queue, with a new message."""
    try:
        factory = _factory(settings.database_url)
        store.requeue(factory, run_id, "requeued: its worker was stopped", mine=True)
        dramatiq.get_broker().get_actor(ACTOR_NAME).send(run_id)
        log.info("run %s: handed back to the queue (worker stopping)", run_id)
    except Exception:  # the sweeper notices the dead process or the stale heartbeat
        log.exception("run %s: could not hand it back; the sweeper will", run_id)


# --------------------------------------------------------------- the API side


class DramatiqRunner:
    """Used by the API when JOB_RUNNER=dramatiq: enqueues runs and sweeps for lost ones.

    Each queued run gets one message per "queue episode" (its attempts count): a new run
    when submitted, a lost run when the sweep requeues it. A queued run is sent again only
    if this process never sent it (after a restart or a failed send; a new run must be
    seen unsent by two sweeps, so a submit under way is not doubled) or if its message was
    lost: the Redis queue is empty (every message was taken) yet the run has waited
    unclaimed for more than `resend_after_s` (a message taken by a worker that died before
    claiming it, or skipped while its row was not visible). A long backlog thus holds one
    message per run, not one per sweep. Duplicates that slip through are harmless (`claim`).
    """

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings, self.factory = settings, factory
        self.broker = make_broker(settings)
        self.actor = declare_actor(self.broker, settings)
        self.queue_key = f"{self.broker.namespace}:{settings.dramatiq_queue}"
        self.resend_after_s = max(2 * settings.job_sweep_every_s, 5.0)
        self.sent: dict[int, tuple[int, float]] = {}  # run id → (attempts, when sent)
        self.unsent: set[int] = set()  # queued, never sent by this process, at the last sweep
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sweeper: threading.Thread | None = None

    def start(self) -> None:
        """The first sweep runs in the sweeper thread: a Redis that is down does not hold up
        the API's start (runs are queued in the database meanwhile)."""
        self.sweeper = threading.Thread(target=self._sweep_loop, name="job-sweeper", daemon=True)
        self.sweeper.start()

    def stop(self) -> None:
        """Stops the sweeper; the workers and their runs carry on."""
        self.stopping.set()
        if self.sweeper is not None:
            self.sweeper.join(timeout=10)
        self.broker.client.close()

    def submit(self, run_id: int) -> None:
        """Called after the run's row is committed. Never raises: an unsent run is sent by
        the next sweep."""
        self._send(run_id, 0)

    def _send(self, run_id: int, attempts: int) -> bool:
        try:
            self.actor.send(run_id)
        except Exception as exc:
            log.warning("could not enqueue run %s (%s); the sweeper will retry", run_id, exc)
            return False
        with self.lock:
            self.sent[run_id] = (attempts, time.monotonic())
        return True

    def _backlog(self) -> int | None:
        """Messages waiting in Redis (not yet taken by a worker); None if unknown."""
        try:
            return int(self.broker.client.llen(self.queue_key))
        except Exception:
            return None

    def sweep(self) -> None:
        started = time.monotonic()
        try:
            queued = store.recover(
                self.factory, self.settings.job_stale_after_s, self.settings.job_max_attempts
            )
            attempts = store.queued_attempts(self.factory, queued)
        except Exception:
            log.exception("job sweep failed; will retry")
            return
        backlog = self._backlog() if attempts else None
        unsent = set()
        for run_id, tries in attempts.items():
            with self.lock:
                sent = self.sent.get(run_id)
            if sent is None and tries == 0 and run_id not in self.unsent:
                unsent.add(run_id)  # its submit may be under way: send it at the next sweep
                continue
            lost = backlog == 0 and sent is not None and started - sent[1] > self.resend_after_s
            if (sent is None or sent[0] != tries or lost) and not self._send(run_id, tries):
                unsent.update(r for r in attempts if r not in self.sent)
                break  # Redis is unreachable: try again at the next sweep
        self.unsent = unsent
        with self.lock:  # forget runs that left the queue (kept: sends newer than this sweep)
            self.sent = {k: v for k, v in self.sent.items() if k in attempts or v[1] >= started}

    def _sweep_loop(self) -> None:
        while not self.stopping.is_set():
            self.sweep()
            self.stopping.wait(self.settings.job_sweep_every_s)


# --------------------------------------------------------------- the worker command


def worker_command(
    settings: Settings, processes: int, threads: int, shutdown_timeout_s: float
) -> tuple[list[str], dict[str, str]]:
    """The `dramatiq` command line `atlas worker` replaces itself with, and its env.

    Each process takes at most `threads` messages at a time (prefetch = threads), so a
    queued run is never held by a busy process while another one is idle.
    """
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        f"{WORKER_MODULE}:broker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--queues",
        settings.dramatiq_queue,
        "--path",
        str(PROJECT_ROOT),
        "--worker-shutdown-timeout",
        str(int(shutdown_timeout_s * 1000)),
    ]
    env = {**os.environ, "dramatiq_queue_prefetch": str(threads)}
    return argv, env
