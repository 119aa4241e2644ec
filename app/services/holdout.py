"""How well suggestions find the right problem or tension: hold back whole works (every
copy of each), file each as a new inbox item, and check whether a problem or tension the
data ties it to is among the top suggestions. Everything runs inside a savepoint that is
rolled back, so the database is left as it was."""

from collections import Counter
from dataclasses import dataclass
from math import comb
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.clients.watching import Found
from app.models import Base, Edge, Problem, Source, Tension, Thread, Work
from app.models.common import format_partial_date
from app.models.edge import NodeType
from app.models.watch import WatchProvider
from app.services import inbox, suggestions, watches

Node = tuple[str, int]
# The watch the held-back works are filed under (never polled).
HOLD_OUT_WATCH = watches.WatchCreate(
    name="hold-out", provider=WatchProvider.feed, query="https://example.org/feed", active=False
)


def seeded_topics(session: Session) -> dict[int, set[tuple[str, int]]]:
    """work id -> the problems and tensions its copies are tied to."""
    links = suggestions.source_links(session)
    topics: dict[int, set[tuple[str, int]]] = {}
    for sid, work_id in session.execute(select(Source.id, Source.work_id)):
        tied = {n for n in links.get(sid, ()) if n[0] in suggestions.TOPIC_KINDS}
        topics.setdefault(work_id, set()).update(tied)
    return {w: t for w, t in topics.items() if t}


def _delete_referencing(session: Session, table_name: str, ids: list[int]) -> None:
    """Delete the rows of every table that point at `ids` of `table_name` (depth first)."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != table_name or fk.column.name != "id":
                continue
            where = fk.parent.in_(ids)
            if "id" in table.c and len(table.primary_key.columns) == 1:
                child_ids = list(session.scalars(select(table.c.id).where(where)))
                if child_ids:
                    _delete_referencing(session, table.name, child_ids)
            session.execute(table.delete().where(where))


def hold_back(session: Session, work_ids: set[int]) -> None:
    """Remove the works, their copies and everything tied to them (edges, evidence, ...)."""
    source_ids = list(session.scalars(select(Source.id).where(Source.work_id.in_(work_ids))))
    for node_type, ids in ((NodeType.source, source_ids), (NodeType.work, list(work_ids))):
        session.execute(
            delete(Edge).where(
                or_(
                    (Edge.from_type == node_type) & Edge.from_id.in_(ids),
                    (Edge.to_type == node_type) & Edge.to_id.in_(ids),
                )
            )
        )
    _delete_referencing(session, "sources", source_ids)
    session.execute(delete(Source).where(Source.id.in_(source_ids)))
    _delete_referencing(session, "works", list(work_ids))
    session.execute(delete(Work).where(Work.id.in_(work_ids)))
    session.flush()


def as_item(source: Source, with_note: bool) -> dict[str, Any]:
    """The source as a provider would describe it (the curator's note standing in for an
    abstract when the source has none)."""
    data = {
        "kind": source.kind.value,
        "title": source.title,
        "authors": source.authors,
        "date": format_partial_date(source.date, source.date_precision) if source.date else None,
        "venue": source.venue,
        "doi": source.doi,
        "arxiv": f"{source.arxiv_id}v{source.arxiv_version}"
        if source.arxiv_version
        else source.arxiv_id,
        "url": source.url,
        "abstract": (source.abstract or source.note) if with_note else None,
    }
    return {k: v for k, v in data.items() if v not in (None, "", [])}


def random_hit_rate(n_topics: int, n_right: int, k: int) -> float:
    """Chance that k topics drawn at random include at least one of the n_right."""
    if n_topics <= 0:
        return 0.0
    k = min(k, n_topics)
    return 1 - comb(n_topics - n_right, k) / comb(n_topics, k)


def _majority(truth: dict[int, set[Node]], work_id: int, kind: str | None, k: int) -> set[Node]:
    """The k topics (of `kind`) tied to most other works: a guess that ignores the item."""
    counts = Counter(
        n for w, ts in truth.items() if w != work_id for n in ts if kind in (None, n[0])
    )
    return {n for n, _ in sorted(counts.items(), key=lambda c: (-c[1], c[0]))[:k]}


@dataclass
class Tally:
    """Hits at k for one list (topics, problems or tensions) and its two baselines."""

    n_candidates: int
    works: int = 0
    hits: int = 0
    random: float = 0.0
    majority: int = 0

    def add(self, right: set[Node], suggested: set[Node], majority: set[Node], k: int) -> None:
        if not right:
            return
        self.works += 1
        self.hits += bool(right & suggested)
        self.majority += bool(right & majority)
        self.random += random_hit_rate(self.n_candidates, len(right), k)

    def public(self) -> dict[str, Any]:
        n = self.works or 1
        return {
            "works": self.works,
            "hits": self.hits,
            "hit_rate": round(self.hits / n, 4),
            "random_baseline": round(self.random / n, 4),
            "majority_baseline": round(self.majority / n, 4),
        }


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _suggest_after_hold_back(
    session: Session,
    mode: str,
    thread: Thread,
    work_id: int,
    data: dict[str, Any],
    k: int,
) -> dict[str, Any]:
    savepoint = session.begin_nested()
    try:
        hold_back(session, {work_id})
        watch = watches.create_watch(session, thread, HOLD_OUT_WATCH)
        received = inbox.receive(session, watch, [Found(f"holdout:{work_id}", data)])
        assert received.added, f"work {work_id} was not filed as new after its hold-back"
        item = inbox.get_item(session, received.added[0])
        return suggestions.suggest(session, None, mode, item.data, limit=k)
    finally:
        savepoint.rollback()


def evaluate(
    factory: sessionmaker[Session],
    mode: str,
    k: int = 3,
    with_note: bool = True,
    limit_works: int | None = None,
) -> dict[str, Any]:
    """Hits at k over the works tied to a problem or tension, with baselines: random picks,
    and the k topics most often tied to the other works."""
    with factory() as session:
        suggestions.warm(session, None, mode)  # stored for good, outside the savepoints
        session.commit()
    with factory() as session:
        return _evaluate(session, mode, k, with_note, limit_works)


def _evaluate(
    session: Session, mode: str, k: int, with_note: bool, limit_works: int | None
) -> dict[str, Any]:
    truth = seeded_topics(session)
    thread = session.scalars(select(Thread).order_by(Thread.id).limit(1)).one()
    n_problems, n_tensions = _count(session, Problem), _count(session, Tension)
    tallies = {
        "topics": Tally(n_problems + n_tensions),
        "problems": Tally(n_problems),
        "tensions": Tally(n_tensions),
    }
    works = sorted(truth)[:limit_works] if limit_works else sorted(truth)
    method, misses = "", []
    for work_id in works:
        copy = session.scalars(
            select(Source).where(Source.work_id == work_id).order_by(Source.id).limit(1)
        ).one()
        answer = _suggest_after_hold_back(
            session, mode, thread, work_id, as_item(copy, with_note), k
        )
        method = answer["method"]
        right = truth[work_id]
        for name, kind in (("topics", None), ("problems", "problem"), ("tensions", "tension")):
            suggested = {(t["type"], t["id"]) for t in answer[name][:k]}
            mine = {n for n in right if kind in (None, n[0])}
            tallies[name].add(mine, suggested, _majority(truth, work_id, kind, k), k)
        if not right & {(t["type"], t["id"]) for t in answer["topics"][:k]}:
            misses.append({"work_id": work_id, "title": copy.title})
    return {
        "method": method,
        "k": k,
        "with_note": with_note,
        **{name: t.public() for name, t in tallies.items()},
        "misses": misses,
    }
