"""Spacing between requests to one provider, shared by every thread of the process."""

import threading
import time
from collections.abc import Callable

# Seconds between two requests, from each provider's published terms: arXiv asks for one
# request every three seconds; Semantic Scholar allows about one a second without a key;
# OpenAlex ten a second. Feeds: one a second per host, to be polite.
MIN_INTERVAL_S = {
    "arXiv": 3.0,
    "Semantic Scholar": 1.0,
    "OpenAlex": 0.1,
    "feed": 1.0,
}


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.next_free: dict[str, float] = {}

    def wait(self, key: str, interval_s: float, sleep: Callable[[float], None]) -> float:
        """Reserve the next slot for `key` and sleep until it comes; answers the wait."""
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_free.get(key, now))
            self.next_free[key] = slot + interval_s
        delay = slot - now
        if delay > 0:
            sleep(delay)
        return delay


LIMITER = RateLimiter()
