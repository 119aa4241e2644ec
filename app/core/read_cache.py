"""Answers repeated API reads from memory until the database changes.

Most reads are repeated far more often than the data changes (the open-tensions view, a
search, a page of a list). This middleware keeps the bytes of successful GET answers under
/api/v1, keyed by path and query, together with the database's *data version* read before
the answer was computed; an entry is served only while the version is still the same.

The data version is read on one connection kept for it alone, and changes with any commit
by any other connection or process:
* SQLite: `PRAGMA data_version`, which changes when another connection commits;
* PostgreSQL: the current snapshot (`pg_current_snapshot()`): two equal snapshots see the
  same committed transactions, and read-only transactions do not change it.
Reading the version before computing the answer makes a race harmless: a commit landing
during the computation changes the version, so the entry is never served.

Entries are kept gzip-compressed (JSON shrinks 5 to 10 times, so the same memory holds
that many more answers). A client that accepts gzip gets the stored bytes as they are;
any other gets them decompressed, which costs far less than computing the answer.

Runs and experiments are not cached (their plots live on disk), nor are reads when
`READ_REQUIRES_TOKEN` is set (the answer would skip the token check).
"""

import contextlib
import gzip
import logging
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CACHED_PREFIX = "/api/v1/"
UNCACHED_PREFIXES = ("/api/v1/runs", "/api/v1/experiments")
VERSION_SQL = {
    "sqlite": "PRAGMA data_version",
    "postgresql": "SELECT pg_current_snapshot()::text",
}


class DataVersion:
    """The database's data version, read on a connection of its own (reopened if it breaks)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sql = VERSION_SQL.get(engine.dialect.name)
        self._conn: Any = None

    def current(self) -> Any:
        """The version, or None when it cannot be read (then nothing is cached)."""
        if self.sql is None:
            return None
        try:
            if self._conn is None:
                self._conn = self._connect()
            cursor = self._conn.cursor()
            cursor.execute(self.sql)
            row = cursor.fetchone()
            cursor.close()
            return row[0]
        except Exception as exc:  # any driver error: serve uncached, retry next time
            log.warning("data version unreadable (%s); answering without the cache", exc)
            self.close()
            return None

    def _connect(self) -> Any:
        conn = self.engine.raw_connection()
        driver = conn.driver_connection
        if self.engine.dialect.name == "postgresql":
            driver.autocommit = True  # type: ignore[union-attr]
        return conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already broken is fine too
                self._conn.invalidate()  # never back into the pool: it is ours alone
            self._conn = None


@dataclass
class Entry:
    version: Any
    headers: list[tuple[bytes, bytes]]  # the answer's, less content-length
    gzipped: bytes


class ReadCache:
    """ASGI middleware; `max_bytes` bounds the bodies kept (least recently used go first)."""

    def __init__(
        self, app: ASGIApp, version: DataVersion, max_bytes: int, enabled: Any = None
    ) -> None:
        self.app = app
        self.version = version
        self.max_bytes = max_bytes
        self.max_entry = max(1, max_bytes // 16)
        self.entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self.size = 0
        self.enabled = enabled or (lambda: True)  # re-checked per request (settings change)

    def cacheable(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        path: str = scope["path"]
        return (
            scope["method"] == "GET"
            and path.startswith(CACHED_PREFIX)
            and not path.startswith(UNCACHED_PREFIXES)
            and self.max_bytes > 0
            and self.enabled()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.cacheable(scope):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""))
        version = self.version.current()
        if version is None:
            await self.app(scope, receive, send)
            return
        entry = self.entries.get(key)
        if entry is not None and entry.version == version:
            self.entries.move_to_end(key)
            await _replay(entry, send, accepts_gzip(scope))
            return
        await self._fill(scope, receive, send, key, version)

    async def _fill(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[str, bytes], version: Any
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                # A hit's encoding follows the request's Accept-Encoding: say so on misses too.
                vary = (b"vary", b"accept-encoding")
                message = start = {**message, "headers": [*message.get("headers", []), vary]}
            elif message["type"] == "http.response.body" and size <= self.max_entry:
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
            await send(message)

        await self.app(scope, receive, capture)
        if start is None or start["status"] != 200 or size > self.max_entry:
            return
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        body = gzip.compress(b"".join(chunks), compresslevel=6, mtime=0)
        self._store(key, Entry(version, headers, body))

    def _store(self, key: tuple[str, bytes], entry: Entry) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= len(old.gzipped)
        self.entries[key] = entry
        self.size += len(entry.gzipped)
        while self.size > self.max_bytes and self.entries:
            _, dropped = self.entries.popitem(last=False)
            self.size -= len(dropped.gzipped)


def accepts_gzip(scope: Scope) -> bool:
    """Whether Accept-Encoding lists gzip (or *) without q=0."""
    for name, value in scope.get("headers", []):
        if name == b"accept-encoding":
            for item in value.decode("latin-1").lower().split(","):
                coding, _, params = item.strip().partition(";")
                q = params.replace(" ", "").removeprefix("q=")
                if coding.strip() in ("gzip", "*") and q not in ("0", "0.0", "0.00", "0.000"):
                    return True
    return False


async def _replay(entry: Entry, send: Send, gzipped: bool) -> None:
    body = entry.gzipped if gzipped else zlib.decompress(entry.gzipped, wbits=31)
    headers = [
        *entry.headers,
        (b"content-length", str(len(body)).encode()),
        (b"x-cache", b"hit"),
    ]
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
