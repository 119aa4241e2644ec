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

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput
from app.models import Source, SourceTag, Thread, ThreadItem, Work
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


def _is_post(item: _Item) -> bool:
    enough = len(item.columns["title_key"].split()) >= MIN_POST_WORDS
    return enough and (item.data.kind in POST_KINDS or identity.hosts_posts(item.columns["site"]))


def _who_when(columns: dict[str, Any]) -> tuple[str | None, int | None]:
    authors = columns.get("authors") or []
    first = identity.normalize_title(authors[0]["family"]) if authors else None
    return first or None, columns["date"].year if columns.get("date") else None


def _compatible(a: tuple[str | None, int | None], b: tuple[str | None, int | None]) -> bool:
    """Same first author and year wherever both are known (a post and its mirror)."""
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


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
        post_keys = {i.columns["title_key"] for i in items if _is_post(i)}
        posts = self._existing_posts(post_keys)
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
            if item.data.work_id is None and choice[1] is None and _is_post(item):
                match = self._post_match(item, posts, batch_posts)
                if match is not None:
                    choice = match
            if item.data.work_id is None and choice[1] is None:
                published = self._version_match(item)
                if published is not None:
                    choice = (published, "published_version", None)
            decided[item.index] = choice
            if c["arxiv_id"]:
                batch_arxiv.setdefault(c["arxiv_id"], item.index)
            if _is_post(item):
                batch_posts.append(item)
        return decided

    def _version_match(self, item: _Item) -> int | None:
        """A preprint (arXiv id, no DOI) and its published version (a DOI), or the other way
        round: the same full title, the same known first author, years at most two apart."""
        c = item.columns
        is_preprint, is_published = bool(c["arxiv_id"]) and not c["doi"], bool(c["doi"])
        author, year = _who_when(c)
        if not (is_preprint or is_published) or author is None or c["title_truncated"]:
            return None
        if len(c["title_key"].split()) < MIN_POST_WORDS:
            return None
        rows = self.s.execute(
            select(Source.work_id, Source.arxiv_id, Source.doi, Source.authors, Source.date).where(
                Source.title_key == c["title_key"], Source.title_truncated.is_(False)
            )
        ).all()
        for work_id, arxiv_id, doi, authors, day in rows:
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
        who = _who_when(item.columns)
        for other_key, other_cut, work_id, other_who in posts + self._prefix_posts(key, cut):
            if identity.titles_match(key, cut, other_key, other_cut) and _compatible(
                who, other_who
            ):
                return (work_id, "mirror", None)
        for other in batch:
            o = other.columns
            if identity.titles_match(key, cut, o["title_key"], o["title_truncated"]) and (
                _compatible(who, _who_when(o))
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
        if new_works:
            ids = self.s.scalars(
                insert(Work).returning(Work.id, sort_by_parameter_order=True),
                [{"title": i.data.title} for i in new_works],
            ).all()
            work_of.update({i.index: wid for i, wid in zip(new_works, ids, strict=True)})
        for item in items:
            existing, _rule, joins = decided[item.index]
            if existing is not None:
                work_of[item.index] = existing
            elif joins is not None:
                work_of[item.index] = work_of[joins]
        rows = [{**i.columns, "work_id": work_of[i.index]} for i in items]
        source_ids = (
            self.s.scalars(
                insert(Source).returning(Source.id, sort_by_parameter_order=True), rows
            ).all()
            if rows
            else []
        )
        tags = [
            {"source_id": sid, "tag": t}
            for i, sid in zip(items, source_ids, strict=True)
            for t in i.data.tags
        ]
        if tags:
            self.s.execute(insert(SourceTag), tags)
        if thread is not None and source_ids:  # nothing created: no thread items either
            self._add_to_thread(thread, list(source_ids), found_via)
        mark(self.s, [("source", sid) for sid in source_ids])
        mark(self.s, [("work", wid) for wid in work_of.values()])
        return [
            ItemResult(
                i.index, "created", id=sid, work_id=work_of[i.index], grouped_by=decided[i.index][1]
            )
            for i, sid in zip(items, source_ids, strict=True)
        ]

    def _add_to_thread(self, thread: Thread, source_ids: list[int], found_via: str | None) -> None:
        self.s.execute(
            insert(ThreadItem),
            [
                {
                    "thread_id": thread.id,
                    "source_id": sid,
                    "found_via": found_via or thread.found_via,
                }
                for sid in source_ids
            ],
        )
        works = dict(
            self.s.execute(select(Source.id, Source.work_id).where(Source.id.in_(source_ids))).all()
        )
        Numbers(self.s, thread.id).ensure([(works[sid], sid) for sid in source_ids])


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
