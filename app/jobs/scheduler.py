"""Polls due watches in the background of a server process: APScheduler ticks every
`watch_tick_s` and hands each due watch to a small thread pool, so that a slow provider
holds up only its own watches.

Several server processes may each run one: a poll first claims its watch in the database,
so a watch is polled by one of them at a time.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.services import watches

log = logging.getLogger("atlas.watches")
POLLERS = 4  # watches polled at once (requests to one provider are still spaced)


class WatchScheduler:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.transport = transport
        self.sleep = sleep
        self.scheduler = BackgroundScheduler(daemon=True, timezone=UTC)
        self.pool = ThreadPoolExecutor(POLLERS, thread_name_prefix="watch-poll")
        self.in_flight: set[int] = set()
        self.lock = threading.Lock()

    def tick(self) -> None:
        try:
            with self.factory() as session:
                due = watches.due(session)
        except Exception:  # the next tick tries again; the server goes on
            log.exception("looking for due watches failed")
            return
        for watch_id in due:
            with self.lock:
                if watch_id in self.in_flight:
                    continue
                self.in_flight.add(watch_id)
            self.pool.submit(self.poll, watch_id)

    def poll(self, watch_id: int) -> None:
        try:
            r = watches.poll(
                self.factory, self.settings, watch_id, self.transport, self.sleep, due_only=True
            )
            if r.status == "ok" and r.added:
                log.info("watch %s: %s new item(s)", r.watch_id, r.added)
        except Exception:
            log.exception("polling watch %s failed", watch_id)
        finally:
            with self.lock:
                self.in_flight.discard(watch_id)

    def start(self) -> None:
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.settings.watch_tick_s,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="poll-due-watches",
        )
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.pool.shutdown(wait=False, cancel_futures=True)
