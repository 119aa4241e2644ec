"""Watches: saved queries of a thread, polled when due into the thread's inbox.

A poll claims its watch (takes a lease on it in one UPDATE, so that no other process or
thread polls it meanwhile), asks the provider with no database transaction open (a slow
provider holds up nothing else), then records in one short transaction either the new
items and the new cursor, or the error, the failure count and when to retry (the cursor
kept as it was, so no place is lost).
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.clients import addresses, watching
from app.clients.http import ProviderError, retry_after_seconds
from app.core.config import Settings
from app.core.errors import AppError, InvalidInput, NotFound
from app.models import InboxItem, Thread, Watch
from app.models.base import utcnow
from app.models.common import ShortText, UTCDateTime, _as_utc
from app.models.watch import WatchProvider
from app.services import inbox
from app.services.crud import page

log = logging.getLogger("atlas.watches")
S2_PAPER = re.compile(
    r"^(?:[0-9a-f]{40}|CorpusId:\d+|DOI:10\.\S+|ARXIV:\S+|PMID:\d+|URL:\S+)$", re.I
)
OPENALEX_FILTER = re.compile(r"^[a-z_.]+:[^,]+(?:,[a-z_.]+:[^,]+)*$")
MIN_EVERY, MAX_EVERY = 5, 60 * 24 * 30
MAX_RETRY_AFTER_S = 86_400.0
WATCH_EXAMPLE: dict[str, Any] = {
    "name": "arXiv: double descent",
    "provider": "arxiv",
    "query": 'all:"double descent"',
    "every_minutes": 1440,
}


class WatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [WATCH_EXAMPLE]})
    name: ShortText
    provider: WatchProvider
    query: str = Field(
        ...,
        min_length=1,
        max_length=2000,
        description='arxiv: a search_query (`all:grokking`, `ti:"benign overfitting"`); '
        "semanticscholar_search: words; semanticscholar_citations / _references: the paper "
        "(S2 id, `DOI:…`, `ARXIV:…`, `CorpusId:…`); openalex: a works filter "
        "(`title.search:grokking,from_publication_date:2024-01-01`); feed: an RSS/Atom URL.",
    )
    every_minutes: int = Field(
        1440, ge=MIN_EVERY, le=MAX_EVERY, strict=True, description="Poll interval."
    )
    active: bool = True

    @model_validator(mode="after")
    def _query_fits_provider(self) -> "WatchCreate":
        check_query(self.provider, self.query)
        return self


class WatchUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"every_minutes": 720, "active": False}]}
    )
    name: ShortText | None = None
    query: str | None = Field(None, min_length=1, max_length=2000)
    every_minutes: int | None = Field(None, ge=MIN_EVERY, le=MAX_EVERY, strict=True)
    active: bool | None = None


class WatchPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "thread_id": 1,
                    **WATCH_EXAMPLE,
                    "active": True,
                    "cursor": {"polled": True, "newest": "2026-05-02"},
                    "next_poll_at": "2026-11-27T09:00:00Z",
                    "last_polled_at": "2026-11-26T09:00:00Z",
                    "last_success_at": "2026-11-26T09:00:00Z",
                    "last_error": None,
                    "failures": 0,
                    "next_retry_at": None,
                    "items_found": 12,
                    "polling": False,
                    "pending": 3,
                }
            ]
        },
    )
    id: int
    thread_id: int
    name: str
    provider: WatchProvider
    query: str
    every_minutes: int
    active: bool
    cursor: dict[str, Any]
    next_poll_at: UTCDateTime
    last_polled_at: UTCDateTime | None
    last_success_at: UTCDateTime | None
    last_error: str | None
    failures: int
    next_retry_at: UTCDateTime | None = Field(
        None, description="When a failing watch is tried again (next_poll_at while failing)."
    )
    items_found: int
    polling: bool = Field(False, description="A poll of this watch is running now.")
    pending: int = Field(0, description="Items of this watch waiting in the inbox.")


def check_query(provider: WatchProvider, query: str, field: str = "query") -> None:
    text = query.strip()
    problem = None
    if not text:
        problem = "must not be blank"
    elif provider == WatchProvider.feed:
        if not re.match(r"^https?://[^\s/]+\S*$", text):
            problem = "a feed watch needs the feed's http(s) URL"
    elif provider in (
        WatchProvider.semanticscholar_citations,
        WatchProvider.semanticscholar_references,
    ):
        if not S2_PAPER.match(text):
            problem = (
                "name the paper as Semantic Scholar does: its 40-hex id, DOI:…, ARXIV:…, "
                "CorpusId:…, PMID:… or URL:…"
            )
    elif provider == WatchProvider.openalex and not OPENALEX_FILTER.match(text):
        problem = "an OpenAlex filter is key:value pairs joined by commas (title.search:grokking)"
    if problem:
        raise InvalidInput(f"{field}: {problem}", field=field)


def check_host(provider: WatchProvider, query: str, settings: Settings) -> None:
    """A feed on this machine or a private network only when the settings allow it."""
    if (
        provider == WatchProvider.feed
        and not settings.watch_private_hosts
        and addresses.names_private_host(query.strip())
    ):
        raise InvalidInput(
            "query: the feed is on this machine or a private network; set "
            "WATCH_PRIVATE_HOSTS=true to allow such feeds",
            field="query",
        )


def _pending(session: Session, watch_ids: list[int]) -> dict[int, int]:
    """Pending inbox items per watch, in one query."""
    rows = session.execute(
        select(InboxItem.watch_id, func.count())
        .where(InboxItem.watch_id.in_(watch_ids), InboxItem.status == "pending")
        .group_by(InboxItem.watch_id)
    )
    return {watch_id: count for watch_id, count in rows if watch_id is not None}


def public(session: Session, watch: Watch, pending: int | None = None) -> dict[str, Any]:
    if pending is None:
        pending = _pending(session, [watch.id]).get(watch.id, 0)
    return (
        WatchPublic.model_validate(watch)
        .model_copy(
            update={
                "next_retry_at": watch.next_poll_at if watch.failures else None,
                "polling": watch.lease_until is not None and _as_utc(watch.lease_until) > utcnow(),
                "pending": pending,
            }
        )
        .model_dump()
    )


def get_watch(session: Session, watch_id: int) -> Watch:
    watch = session.get(Watch, watch_id)
    if watch is None:
        raise NotFound(f"watch {watch_id} not found", field="path.watch_id")
    return watch


def list_watches(session: Session, thread: Thread, limit: int, offset: int) -> dict[str, Any]:
    stmt = select(Watch).where(Watch.thread_id == thread.id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Watch.id).limit(limit).offset(offset)).all()
    counts = _pending(session, [w.id for w in rows])
    return page([public(session, w, counts.get(w.id, 0)) for w in rows], total, limit, offset)


def create_watch(
    session: Session, thread: Thread, data: WatchCreate, settings: Settings | None = None
) -> Watch:
    if settings is not None:
        check_host(data.provider, data.query, settings)
    watch = Watch(
        thread_id=thread.id,
        name=data.name,
        provider=data.provider,
        query=data.query.strip(),
        every_minutes=data.every_minutes,
        active=data.active,
        cursor={},
        next_poll_at=utcnow(),  # first poll at the next tick
        failures=0,
        items_found=0,
    )
    session.add(watch)
    session.flush()
    return watch


def update_watch(
    session: Session, watch: Watch, data: WatchUpdate, settings: Settings | None = None
) -> Watch:
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "query", "every_minutes", "active"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name}: must not be null", field=name)
    if "query" in changes:
        check_query(watch.provider, changes["query"])
        if settings is not None:
            check_host(watch.provider, changes["query"], settings)
        changes["query"] = changes["query"].strip()
        if changes["query"] != watch.query:
            watch.cursor = {}  # a new question: start over from its newest page
    if changes.get("active") and not watch.active:
        watch.next_poll_at = min(_as_utc(watch.next_poll_at), utcnow())
    if "every_minutes" in changes and not watch.failures:  # a failing watch keeps its retry
        since = watch.last_success_at or utcnow()
        watch.next_poll_at = since + timedelta(minutes=changes["every_minutes"])
    for name, value in changes.items():
        setattr(watch, name, value)
    session.flush()
    return watch


def delete_watch(session: Session, watch: Watch) -> None:
    """Its inbox items stay, their watch_id set to null by the database (decisions and
    remembered keys are the thread's)."""
    session.delete(watch)
    session.flush()


# --- polling


@dataclass
class PollReport:
    watch_id: int
    status: str  # ok | failed | skipped
    added: int = 0
    item_ids: list[int] = field(default_factory=list)
    already_seen: int = 0
    already_in_thread: int = 0
    invalid: int = 0
    requests: int = 0
    error: str | None = None
    error_status: int | None = None
    next_poll_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "next_poll_at": self.next_poll_at.isoformat() if self.next_poll_at else None,
        }


def _lease(settings: Settings) -> timedelta:
    """How long a claimed poll may take before another may start: a crashed poller's watch
    comes back after this."""
    return timedelta(seconds=settings.lookup_deadline_s * (settings.watch_max_pages + 1) + 60)


def backoff(settings: Settings, watch: Watch, failures: int, retry_after: float | None) -> float:
    """Seconds to the next try: doubling from watch_backoff_s, never longer than the
    watch's own interval, never sooner than the provider's Retry-After (which is believed
    up to a day)."""
    delay = min(settings.watch_backoff_s * 2 ** min(failures - 1, 30), watch.every_minutes * 60.0)
    return min(max(delay, retry_after or 0.0), MAX_RETRY_AFTER_S)


def _claim(session: Session, watch_id: int, settings: Settings, due_only: bool) -> Watch | None:
    """Take the watch's lease in one UPDATE: of concurrent pollers, one wins."""
    now = utcnow()
    conditions = [
        Watch.id == watch_id,
        or_(Watch.lease_until.is_(None), Watch.lease_until < now),
    ]
    if due_only:
        conditions += [Watch.active.is_(True), Watch.next_poll_at <= now]
    claimed = session.execute(
        update(Watch)
        .where(*conditions)
        .values(lease_until=now + _lease(settings), last_polled_at=now)
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    return session.get(Watch, watch_id) if claimed == 1 else None


def poll(
    factory: sessionmaker[Session],
    settings: Settings,
    watch_id: int,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    due_only: bool = False,
) -> PollReport:
    """Poll one watch now (or, with due_only, only if it is due and no one else is)."""
    with factory() as session:
        watch = _claim(session, watch_id, settings, due_only)
        if watch is None:
            if session.get(Watch, watch_id) is None:
                raise NotFound(f"watch {watch_id} not found", field="path.watch_id")
            return PollReport(watch_id, "skipped")
        provider, query, cursor = watch.provider, watch.query, dict(watch.cursor or {})
        known = inbox.seen_keys(session, watch.thread_id)
        session.rollback()  # no transaction stays open while the provider is asked

    def seen(item: watching.Found) -> bool:
        return bool(known.intersection(inbox.keys_of(provider, item)))

    try:
        fetched = watching.fetch(settings, provider, query, cursor, seen, transport, sleep)
    except AppError as exc:
        return _record_failure(factory, settings, watch_id, exc)
    except Exception as exc:  # a parser surprise must not leave the watch claimed
        log.exception("poll of watch %s failed", watch_id)
        return _record_failure(factory, settings, watch_id, ProviderError(repr(exc)[:300]))
    return _record_items(factory, watch_id, query, fetched)


def _record_items(
    factory: sessionmaker[Session], watch_id: int, query: str, fetched: watching.Fetched
) -> PollReport:
    for attempt in range(3):
        with factory() as session:
            watch = session.get(Watch, watch_id)
            if watch is None or watch.query != query:  # deleted or re-asked meanwhile
                if watch is not None:
                    watch.lease_until = None
                    session.commit()
                return PollReport(watch_id, "skipped", requests=fetched.requests)
            try:
                received = inbox.receive(session, watch, fetched.items)
                now = utcnow()
                watch.cursor = fetched.cursor
                watch.lease_until = None
                watch.failures = 0
                watch.last_error = None
                watch.last_success_at = now
                watch.next_poll_at = now + timedelta(minutes=watch.every_minutes)
                watch.items_found += len(received.added)
                next_poll = watch.next_poll_at
                session.commit()
            except IntegrityError:  # another watch of the thread filed the same item
                session.rollback()
                if attempt == 2:
                    raise
                continue
            return PollReport(
                watch_id,
                "ok",
                added=len(received.added),
                item_ids=received.added,
                already_seen=received.already_seen,
                already_in_thread=received.already_in_thread,
                invalid=received.invalid,
                requests=fetched.requests,
                next_poll_at=next_poll,
            )
    raise AssertionError("unreachable")


def _record_failure(
    factory: sessionmaker[Session], settings: Settings, watch_id: int, exc: AppError
) -> PollReport:
    details = exc.details if isinstance(exc.details, dict) else {}
    retry_after = retry_after_seconds(details.get("retry_after"))
    with factory() as session:
        watch = session.get(Watch, watch_id)
        if watch is None:
            return PollReport(watch_id, "skipped", error=exc.message)
        watch.failures += 1
        watch.lease_until = None
        watch.last_error = exc.message[:2000]
        watch.next_poll_at = utcnow() + timedelta(
            seconds=backoff(settings, watch, watch.failures, retry_after)
        )
        next_poll = watch.next_poll_at
        session.commit()
    log.warning("watch %s: %s (retry at %s)", watch_id, exc.message, next_poll.isoformat())
    return PollReport(
        watch_id,
        "failed",
        error=exc.message,
        error_status=exc.status_code,
        next_poll_at=next_poll,
    )


def due(session: Session, limit: int = 20) -> list[int]:
    now = utcnow()
    return list(
        session.scalars(
            select(Watch.id)
            .where(
                Watch.active.is_(True),
                Watch.next_poll_at <= now,
                or_(Watch.lease_until.is_(None), Watch.lease_until < now),
            )
            .order_by(Watch.next_poll_at)
            .limit(limit)
        )
    )


def poll_due(
    factory: sessionmaker[Session],
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[PollReport]:
    with factory() as session:
        ids = due(session)
    return [poll(factory, settings, i, transport, sleep, due_only=True) for i in ids]
