"""Adding sources one at a time or by the thousand, with identity checks and work grouping.

Every item is validated on its own, then checked in bulk against the database and against
the items before it: an identifier already known (DOI, arXiv id and version, OpenReview id,
URL, citation key) makes it a duplicate. New sources join an existing work when the rules
below say they are copies of it, otherwise they start a work of their own:

* arxiv — another version of the same arXiv id (or the unversioned id);
* mirror — a post (on a site that hosts posts, or of kind blog/forum post) whose normalised
  title equals another post's title, or starts it when one of the two listings is cut off,
  with the same first author and year where both say: the same post listed twice, or
  mirrored on another site;
* published_version — a preprint (arXiv id, no DOI) and a published version (a DOI) with the
  same full title, the same first author (which both must state) and years at most two apart.

Papers with equal titles are not merged: one title can name several submissions. They are
offered by GET /works/suggestions instead.
"""

import gc
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput
from app.models import Source, SourceTag, Thread, ThreadItem, Work
from app.models.base import utcnow
from app.models.common import SourceKind
from app.models.source import SourceCreate
from app.services import identity
from app.services.changes import mark
from app.services.citations import Numbers
from app.services.sources import source_columns

MAX_ITEMS = 10_000
IDENTIFIERS = ("doi", "openreview_id", "url", "citekey")
POST_KINDS = {SourceKind.blog_post, SourceKind.forum_post}
CHUNK = 500
Mode = Literal["all", "report"]


@dataclass
class ItemResult:
    index: int
    status: str  # created | duplicate | invalid
    id: int | None = None
    work_id: int | None = None
    grouped_by: str | None = None
    existing_id: int | None = None
    duplicate_of_index: int | None = None
    field: str | None = None
    message: str | None = None

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class _Item:
    index: int
    data: SourceCreate
    columns: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def who(self) -> tuple[str | None, int | None]:
        """(first author, year), as the grouping rules compare them."""
        return _who_when(self.columns)

    @cached_property
    def is_post(self) -> bool:
        """A post whose title is long enough to be matched against other posts."""
        enough = len(self.columns["title_key"].split()) >= MIN_POST_WORDS
        return enough and (
            self.data.kind in POST_KINDS or identity.hosts_posts(self.columns["site"])
        )


def _error_field(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ())]
    while len(loc) > 1 and loc[-1] in {"str", "int", "date", "list", "dict"}:
        loc.pop()
    return ".".join(loc) or "item", str(first.get("msg"))


def _existing(session: Session, column: Any, values: set[Any]) -> dict[Any, int]:
    found: dict[Any, int] = {}
    ordered = sorted(values, key=str)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        found.update(
            {v: i for i, v in session.execute(select(Source.id, column).where(column.in_(chunk)))}
        )
    return found


MIN_POST_WORDS = 3  # "Introduction" on two blogs is not one post
_POST_COLUMNS = select(
    Source.title_key,
    Source.title_truncated,
    Source.work_id,
    Source.kind,
    Source.site,
    Source.authors,
    Source.date,
)


def _posts(rows: Any) -> list[tuple[str, bool, int, Any]]:
    """(title key, cut off?, work, (first author, year)) of the rows that are posts."""
    return [
        (k, t, w, _who_when({"authors": a, "date": d}))
        for k, t, w, kind, site, a, d in rows
        if kind in POST_KINDS or identity.hosts_posts(site)
    ]


def _who_when(columns: dict[str, Any]) -> tuple[str | None, int | None]:
    authors = columns.get("authors") or []
    first = identity.normalize_title(authors[0]["family"]) if authors else None
    return first or None, columns["date"].year if columns.get("date") else None


def _compatible(a: tuple[str | None, int | None], b: tuple[str | None, int | None]) -> bool:
    """Same first author and year wherever both are known (a post and its mirror)."""
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _version_key(item: _Item) -> str | None:
    """The title key under which a preprint or published version looks for its other half
    (None: not one, a cut-off title or too few words to tell; the first author, which both
    must state, is checked once there is a candidate)."""
    c = item.columns
    if not (c["arxiv_id"] or c["doi"]) or c["title_truncated"]:
        return None
    if len(c["title_key"].split()) < MIN_POST_WORDS:
        return None
    return str(c["title_key"])


class Intake:
    def __init__(self, session: Session) -> None:
        self.s = session

    def validate(self, raw: list[Any]) -> tuple[list[_Item], list[ItemResult]]:
        items, results = [], []
        for index, value in enumerate(raw):
            try:
                data = SourceCreate.model_validate(value)
            except ValidationError as exc:
                where, message = _error_field(exc)
                results.append(ItemResult(index, "invalid", field=where, message=message))
                continue
            items.append(_Item(index, data, source_columns(data)))
        work_ids = {i.data.work_id for i in items if i.data.work_id is not None}
        known = (
            set(self.s.scalars(select(Work.id).where(Work.id.in_(work_ids)))) if work_ids else set()
        )
        for item in list(items):
            if item.data.work_id is not None and item.data.work_id not in known:
                results.append(
                    ItemResult(
                        item.index,
                        "invalid",
                        field="work_id",
                        message=f"work {item.data.work_id} does not exist",
                    )
                )
                items.remove(item)
        return items, results

    def duplicates(self, items: list[_Item]) -> tuple[list[_Item], list[ItemResult]]:
        """Split off items whose identifiers are taken, in the database or by earlier items."""
        taken = {
            name: _existing(
                self.s,
                getattr(Source, name),
                {i.columns[name] for i in items if i.columns.get(name)},
            )
            for name in IDENTIFIERS
        }
        arxiv_ids = {i.columns["arxiv_id"] for i in items if i.columns["arxiv_id"]}
        arxiv_taken: dict[tuple[str, int], int] = {}
        for start in range(0, len(arxiv_ids), CHUNK):
            chunk = sorted(arxiv_ids)[start : start + CHUNK]
            rows = self.s.execute(
                select(Source.id, Source.arxiv_id, Source.arxiv_version).where(
                    Source.arxiv_id.in_(chunk)
                )
            )
            arxiv_taken.update({(str(a), v or 0): sid for sid, a, v in rows})
        seen: dict[tuple[str, Any], int] = {}
        fresh, results = [], []
        for item in items:
            keys = [(name, item.columns[name]) for name in IDENTIFIERS if item.columns.get(name)]
            if item.columns["arxiv_id"]:
                keys.append(
                    ("arxiv", (item.columns["arxiv_id"], item.columns["arxiv_version"] or 0))
                )
            clash = None
            for name, value in keys:
                existing = arxiv_taken.get(value) if name == "arxiv" else taken[name].get(value)
                if existing is not None:
                    clash = ItemResult(
                        item.index,
                        "duplicate",
                        existing_id=existing,
                        field=name,
                        message=f"{name} already belongs to source {existing}",
                    )
                    break
                if (name, value) in seen:
                    clash = ItemResult(
                        item.index,
                        "duplicate",
                        duplicate_of_index=seen[(name, value)],
                        field=name,
                        message=f"{name} repeats item {seen[(name, value)]}",
                    )
                    break
            if clash:
                results.append(clash)
                continue
            for key in keys:
                seen[key] = item.index
            fresh.append(item)
        return fresh, results

    def group(self, items: list[_Item]) -> dict[int, tuple[int | None, str | None, int | None]]:
        """index -> (existing work id or None, rule, index of the batch item it joins)."""
        by_arxiv = dict(
            self.s.execute(
                select(Source.arxiv_id, func.min(Source.work_id))
                .where(
                    Source.arxiv_id.in_(
                        {i.columns["arxiv_id"] for i in items if i.columns["arxiv_id"]}
                    )
                )
                .group_by(Source.arxiv_id)
            ).all()
        )
        post_keys = {i.columns["title_key"] for i in items if i.is_post}
        posts = self._existing_posts(post_keys)
        versions = self._version_candidates(items)
        decided: dict[int, tuple[int | None, str | None, int | None]] = {}
        batch_arxiv: dict[str, int] = {}
        batch_posts: list[_Item] = []
        for item in items:
            c = item.columns
            choice: tuple[int | None, str | None, int | None] = (item.data.work_id, None, None)
            if item.data.work_id is None and c["arxiv_id"]:
                if c["arxiv_id"] in by_arxiv:
                    choice = (by_arxiv[c["arxiv_id"]], "arxiv", None)
                elif c["arxiv_id"] in batch_arxiv:
                    choice = (None, "arxiv", batch_arxiv[c["arxiv_id"]])
            if item.data.work_id is None and choice[1] is None and item.is_post:
                match = self._post_match(item, posts, batch_posts)
                if match is not None:
                    choice = match
            if item.data.work_id is None and choice[1] is None:
                published = self._version_match(item, versions)
                if published is not None:
                    choice = (published, "published_version", None)
            decided[item.index] = choice
            if c["arxiv_id"]:
                batch_arxiv.setdefault(c["arxiv_id"], item.index)
            if item.is_post:
                batch_posts.append(item)
        return decided

    def _version_candidates(self, items: list[_Item]) -> dict[str, list[Any]]:
        """Existing full titles that a preprint or a published version in `items` could pair
        with: title key -> (work, arXiv id, DOI, authors, date) rows, in id order. One query
        per chunk of titles instead of one per item."""
        keys = sorted(
            {
                i.columns["title_key"]
                for i in items
                if i.data.work_id is None and _version_key(i) is not None
            }
        )
        found: dict[str, list[Any]] = defaultdict(list)
        for start in range(0, len(keys), CHUNK):
            rows = self.s.execute(
                select(
                    Source.title_key,
                    Source.work_id,
                    Source.arxiv_id,
                    Source.doi,
                    Source.authors,
                    Source.date,
                )
                .where(
                    Source.title_key.in_(keys[start : start + CHUNK]),
                    Source.title_truncated.is_(False),
                )
                .order_by(Source.id)
            )
            for key, *row in rows:
                found[key].append(row)
        return found

    def _version_match(self, item: _Item, candidates: dict[str, list[Any]]) -> int | None:
        """A preprint (arXiv id, no DOI) and its published version (a DOI), or the other way
        round: the same full title, the same known first author, years at most two apart."""
        c = item.columns
        key = _version_key(item)
        if key is None or key not in candidates or item.who[0] is None:
            return None
        is_preprint, is_published = bool(c["arxiv_id"]) and not c["doi"], bool(c["doi"])
        author, year = item.who
        for work_id, arxiv_id, doi, authors, day in candidates.get(key, ()):
            other_author, other_year = _who_when({"authors": authors, "date": day})
            other_preprint, other_published = bool(arxiv_id) and not doi, bool(doi)
            pairs = (is_preprint and other_published) or (is_published and other_preprint)
            close = year is None or other_year is None or abs(year - other_year) <= 2
            if pairs and other_author == author and close:
                return int(work_id)
        return None

    def _existing_posts(self, keys: set[str]) -> list[tuple[str, bool, int, Any]]:
        rows: list[Any] = []
        ordered = sorted(k for k in keys if k)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            rows += self.s.execute(_POST_COLUMNS.where(Source.title_key.in_(chunk))).all()
        return _posts(rows)

    def _post_match(
        self, item: _Item, posts: list[tuple[str, bool, int, Any]], batch: list[_Item]
    ) -> tuple[int | None, str | None, int | None] | None:
        key, cut = item.columns["title_key"], item.columns["title_truncated"]
        who = item.who
        for other_key, other_cut, work_id, other_who in posts + self._prefix_posts(key, cut):
            if identity.titles_match(key, cut, other_key, other_cut) and _compatible(
                who, other_who
            ):
                return (work_id, "mirror", None)
        for other in batch:
            o = other.columns
            if identity.titles_match(key, cut, o["title_key"], o["title_truncated"]) and (
                _compatible(who, other.who)
            ):
                return (None, "mirror", other.index)
        return None

    def _prefix_posts(self, key: str, truncated: bool) -> list[tuple[str, bool, int, Any]]:
        """Existing posts whose title this cut-off title starts."""
        if not truncated or len(key.split()) < identity.MIN_PREFIX_WORDS:
            return []
        rows = self.s.execute(
            _POST_COLUMNS.where(
                Source.title_key >= key, Source.title_key < key + "\U0010ffff"
            ).limit(50)
        ).all()
        return _posts(rows)

    def insert(
        self, items: list[_Item], thread: Thread | None, found_via: str | None
    ) -> list[ItemResult]:
        decided = self.group(items)
        work_of: dict[int, int] = {}
        new_works = [
            i for i in items if decided[i.index][0] is None and decided[i.index][2] is None
        ]
        now = utcnow()
        stamps = {"created_at": now, "updated_at": now}
        work_ids = _new_ids(self.s, _table(Work), len(new_works))
        _insert_many(
            self.s,
            _table(Work),
            [
                {"id": wid, "title": i.data.title, **stamps}
                for i, wid in zip(new_works, work_ids, strict=True)
            ],
        )
        work_of.update({i.index: wid for i, wid in zip(new_works, work_ids, strict=True)})
        for item in items:
            existing, _rule, joins = decided[item.index]
            if existing is not None:
                work_of[item.index] = existing
            elif joins is not None:
                work_of[item.index] = work_of[joins]
        source_ids = _new_ids(self.s, _table(Source), len(items))
        _insert_many(
            self.s,
            _table(Source),
            [
                _updated(i.columns, id=sid, work_id=work_of[i.index], **stamps)
                for i, sid in zip(items, source_ids, strict=True)
            ],
        )
        _insert_many(
            self.s,
            _table(SourceTag),
            [
                {"source_id": sid, "tag": t}
                for i, sid in zip(items, source_ids, strict=True)
                for t in i.data.tags
            ],
        )
        if thread is not None and source_ids:  # nothing created: no thread items either
            self._add_to_thread(
                thread,
                [(work_of[i.index], sid) for i, sid in zip(items, source_ids, strict=True)],
                found_via,
            )
        mark(self.s, [("source", sid) for sid in source_ids])
        mark(self.s, [("work", wid) for wid in work_of.values()])
        return [
            ItemResult(
                i.index, "created", id=sid, work_id=work_of[i.index], grouped_by=decided[i.index][1]
            )
            for i, sid in zip(items, source_ids, strict=True)
        ]

    def _add_to_thread(
        self, thread: Thread, copies: list[tuple[int, int | None]], found_via: str | None
    ) -> None:
        """Add the new sources ((work, source) pairs, in order) to the thread as items."""
        self.s.execute(
            insert(ThreadItem),
            [
                {
                    "thread_id": thread.id,
                    "source_id": sid,
                    "found_via": found_via or thread.found_via,
                }
                for _wid, sid in copies
            ],
        )
        Numbers(self.s, thread.id).ensure(copies)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _updated(row: dict[str, Any], **values: Any) -> dict[str, Any]:
    row.update(values)  # the item's own column dict: no copy per row
    return row


def _new_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` fresh primary keys of `table`, taken before a batch insert, so that rows go in
    with one executemany (an INSERT ... RETURNING that keeps the rows' order runs row by row
    on SQLite). PostgreSQL: the column's sequence. SQLite: the rowids it would pick itself
    (max + 1, …: no table uses AUTOINCREMENT); the transaction holds the write lock (BEGIN
    IMMEDIATE), and a deferred one could not commit over a concurrent writer anyway."""
    if count == 0:
        return []
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        ).scalar_one()
        return list(
            conn.execute(
                text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                {"seq": sequence, "n": count},
            ).scalars()
        )
    top = conn.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(top + 1, top + count + 1))


def _insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany of `rows` (dicts with the same keys), outside the ORM unit of work
    (the graph changes are marked by hand). On SQLite the rows go to the driver as tuples,
    each value through its column type's bind processor as SQLAlchemy would pass it: its own
    per-row parameter handling costs about as much as SQLite's insert. PostgreSQL, or a row
    that leaves out a column with a Python-side default: a Core insert."""
    if not rows:
        return
    conn = session.connection()
    names = list(rows[0])
    defaults_needed = any(c.default is not None for c in table.c if c.name not in rows[0])
    if conn.dialect.name != "sqlite" or defaults_needed or len(names) < 2:
        conn.execute(insert(table), rows)
        return
    get = itemgetter(*names)
    processors = [
        (i, p) for i, n in enumerate(names) if (p := table.c[n].type.bind_processor(conn.dialect))
    ]
    values: list[tuple[Any, ...]] = [get(row) for row in rows]
    if processors:
        # Rows share many values (one timestamp, enum members, cached dates): a value that
        # is the very object of the row before reuses that row's processed form.
        last_in: list[Any] = [object()] * len(names)
        last_out: list[Any] = [None] * len(names)
        for n, row in enumerate(values):
            out = list(row)
            for i, process in processors:
                value = out[i]
                if value is not last_in[i]:
                    last_in[i], last_out[i] = value, process(value)
                out[i] = last_out[i]
            values[n] = tuple(out)
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) "
        f"VALUES ({', '.join('?' for _ in names)})",
        values,
    )


PAUSE_GC_FROM = 1000
_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration of a large batch.

    A batch keeps a few dozen objects per item alive until it is answered; their growth
    triggers full collections, and each walks every object of the process (the app's
    modules, schemas and mappers, the request body): about a fifth of a 10,000-item intake.
    The batch's objects are freed by reference counting; anything cyclic waits for the next
    collection after the batch. The switch is process-wide, so overlapping batches count:
    the first turns collection off, the last restores what it found."""
    global _gc_holders, _gc_was_enabled
    if not pause:
        yield
        return
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


def ingest(
    session: Session,
    raw: list[Any],
    mode: Mode,
    thread: Thread | None = None,
    found_via: str | None = None,
) -> dict[str, Any]:
    """Validate, check and insert `raw` items; in mode "all" any problem refuses them all."""
    if len(raw) > MAX_ITEMS:
        raise InvalidInput(
            f"body: at most {MAX_ITEMS} sources per request (got {len(raw)})", field="body"
        )
    with _collector_paused(len(raw) >= PAUSE_GC_FROM):
        return _ingest(session, raw, mode, thread, found_via)


def _ingest(
    session: Session, raw: list[Any], mode: Mode, thread: Thread | None, found_via: str | None
) -> dict[str, Any]:
    intake = Intake(session)
    items, problems = intake.validate(raw)
    items, duplicates = intake.duplicates(items)
    problems += duplicates
    problems.sort(key=lambda r: r.index)
    if mode == "all" and problems:
        first = problems[0]
        details = {"problems": [p.public() for p in problems[:100]], "count": len(problems)}
        message = f"item {first.index}: {first.message}; nothing was saved"
        if first.status == "invalid":
            raise InvalidInput(message, field=f"{first.index}.{first.field}", details=details)
        raise Conflict(message, field=f"{first.index}.{first.field}", details=details)
    created = intake.insert(items, thread, found_via)
    session.flush()
    results = sorted(created + problems, key=lambda r: r.index)
    ids_by_index = {r.index: r.id for r in created}
    for r in results:
        if r.duplicate_of_index is not None:
            r.existing_id = ids_by_index.get(r.duplicate_of_index)
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        counts[r.status] += 1
    return {
        "created": counts["created"],
        "duplicates": counts["duplicate"],
        "invalid": counts["invalid"],
        "items": [r.public() for r in results],
    }
