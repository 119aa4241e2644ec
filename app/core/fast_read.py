"""A direct read path for SQLite: one plain sqlite3 connection, used on the event loop.

A lookup by primary key takes tens of microseconds in SQLite itself, but several hundred
through routing, dependencies, a thread-pool hop and an ORM session. Hot single-row reads
(GET /api/v1/sources/{id}, declared by a resource's `fast_get`) are therefore answered by
the `DirectReads` middleware before routing, in one read transaction. Everything else,
a row that is not found (the route gives the 404), every read on PostgreSQL, and reads
while `READ_REQUIRES_TOKEN` is set take the ordinary route, which stays the documented
operation. The connection is query-only: it cannot write even by mistake.
"""

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.models.common import MAX_ID

# (reader, row id) -> the row's public JSON, or None when there is no such row.
RowReader = Callable[["SqliteReader", int], bytes | None]


class SqliteReader:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA query_only = 1")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """Queries inside see one consistent state of the database."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def sqlite_reader(engine: Engine) -> SqliteReader | None:
    """A reader for a file-backed SQLite engine, else None (the ordinary path is used)."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return None
    return SqliteReader(path)


class DirectReads:
    """ASGI middleware: `GET {prefix}/{plural}/{id}` for the resources given, on SQLite."""

    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        readers: dict[str, RowReader],
        prefix: str,
        enabled: Callable[[], bool],
    ) -> None:
        self.app = app
        self.state = state  # app.state: the reader is opened by the lifespan
        self.readers = readers
        self.enabled = enabled
        names = "|".join(re.escape(p) for p in readers)
        self.pattern = re.compile(rf"{re.escape(prefix)}/({names})/([0-9]{{1,10}})")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reader = getattr(self.state, "sqlite_reader", None)
        if scope["type"] == "http" and scope["method"] == "GET" and reader is not None:
            match = self.pattern.fullmatch(scope["path"])
            if match and int(match[2]) <= MAX_ID and self.enabled():
                body = self.readers[match[1]](reader, int(match[2]))
                if body is not None:
                    await _send_json(send, body)
                    return
        await self.app(scope, receive, send)


async def _send_json(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
