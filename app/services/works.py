"""Works: suggestions of likely copies, merging works and splitting one apart.

Suggestions compare the normalised titles of the copies of different works (rapidfuzz),
accept a cut-off title that starts another, and require the same first author and year
when both works state them; pairs that pass are joined into groups (connected pairs), each
offered as "these works are probably one". Pairs a curator marked distinct are not offered
again.
"""

from collections import defaultdict
from itertools import combinations
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.models import Edge, Source, ThreadCitation, Work, WorkDistinction
from app.models.edge import NodeType
from app.services import identity
from app.services.changes import mark
from app.services.refs import require_ids

BLOCK_WORDS = 3


def _first_author(authors: list[dict[str, Any]] | None) -> str | None:
    if not authors:
        return None
    return identity.normalize_title(str(authors[0].get("family") or "")) or None


class _Work:
    def __init__(self, work_id: int) -> None:
        self.id = work_id
        self.titles: set[tuple[str, bool]] = set()
        self.display: list[str] = []
        self.authors: set[str] = set()
        self.years: set[int] = set()


def _load(session: Session, only: set[int] | None) -> dict[int, _Work]:
    works: dict[int, _Work] = {}
    stmt = select(
        Source.work_id,
        Source.title,
        Source.title_key,
        Source.title_truncated,
        Source.authors,
        Source.date,
    )
    for work_id, title, key, truncated, authors, day in session.execute(stmt):
        w = works.setdefault(work_id, _Work(work_id))
        if key:
            w.titles.add((key, truncated))
        if title not in w.display:
            w.display.append(title)
        if (author := _first_author(authors)) is not None:
            w.authors.add(author)
        if day is not None:
            w.years.add(day.year)
    return works


def _score(a: _Work, b: _Work) -> tuple[float, str] | None:
    if a.authors and b.authors and not a.authors & b.authors:
        return None
    if a.years and b.years and not a.years & b.years:
        return None
    best: tuple[float, str] | None = None
    for (ka, ca), (kb, cb) in ((x, y) for x in a.titles for y in b.titles):
        if ka == kb:
            found = (100.0, "same title")
        elif identity.titles_match(ka, ca, kb, cb):
            found = (97.0, "a cut-off title starts the other")
        else:
            found = (round(fuzz.ratio(ka, kb), 1), "similar titles")
        if best is None or found[0] > best[0]:
            best = found
    return best


def suggestions(
    session: Session, min_score: float, limit: int, work_id: int | None
) -> list[dict[str, Any]]:
    """Groups of works that are probably one work: the connected pairs scoring at least
    `min_score`, largest evidence first. Each group lists its works, titles and pairs."""
    works = _load(session, None)
    if work_id is not None and work_id not in works:
        raise NotFound(f"work {work_id} not found", field="query.work_id")
    distinct = {
        tuple(sorted(p))
        for p in session.execute(select(WorkDistinction.work_a, WorkDistinction.work_b))
    }
    blocks: dict[str, set[int]] = defaultdict(set)
    for w in works.values():
        for key, _cut in w.titles:
            blocks[" ".join(key.split()[:BLOCK_WORDS])].add(w.id)
    candidates: set[tuple[int, int]] = set()
    for members in _small_blocks(works, blocks):
        candidates.update(combinations(sorted(members), 2))
    pairs: list[dict[str, Any]] = []
    for a, b in sorted(candidates):
        if (a, b) in distinct:
            continue
        scored = _score(works[a], works[b])
        if scored is not None and scored[0] >= min_score:
            pairs.append({"work_ids": [a, b], "score": scored[0], "reason": scored[1]})
    groups = _groups(pairs, distinct)
    out = []
    for members in groups:
        if work_id is not None and work_id not in members:
            continue
        inside = [p for p in pairs if p["work_ids"][0] in members]
        out.append(
            {
                "work_ids": sorted(members),
                "score": max(p["score"] for p in inside),
                "titles": {str(w): works[w].display[0] for w in sorted(members)},
                "copies": sum(len(works[w].display) for w in members),
                "pairs": sorted(inside, key=lambda p: -float(p["score"]))[:50],
            }
        )
    out.sort(key=lambda g: (-float(g["score"]), -len(g["work_ids"]), g["work_ids"]))
    return out[:limit]


MAX_BLOCK = 300  # pairs are compared inside blocks; larger blocks are split by more words


def _small_blocks(works: dict[int, _Work], blocks: dict[str, set[int]]) -> list[set[int]]:
    """Blocks of works sharing their first title words, split further (by more words) while
    they are too large to compare pairwise; what stays too large is left out."""
    out: list[set[int]] = []
    todo = [(members, BLOCK_WORDS) for members in blocks.values() if len(members) > 1]
    while todo:
        members, words = todo.pop()
        if len(members) <= MAX_BLOCK:
            out.append(members)
            continue
        if words >= 12:
            continue
        finer: dict[str, set[int]] = defaultdict(set)
        for w in members:
            for key, _cut in works[w].titles:
                finer[" ".join(key.split()[: words + 3])].add(w)
        todo += [(m, words + 3) for m in finer.values() if len(m) > 1]
    return out


def _groups(pairs: list[dict[str, Any]], distinct: set[Any]) -> list[set[int]]:
    """Connected components of the suggested pairs, strongest pairs first, never joining two
    works a curator declared distinct (union-find)."""
    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in sorted(pairs, key=lambda p: -float(p["score"])):
        ra, rb = root(p["work_ids"][0]), root(p["work_ids"][1])
        if ra == rb:
            continue
        left, right = members.get(ra, {ra}), members.get(rb, {rb})
        if any(tuple(sorted((x, y))) in distinct for x in left for y in right):
            continue
        parent[ra] = rb
        members[rb] = left | right
    grouped: dict[int, set[int]] = defaultdict(set)
    for x in list(parent):
        grouped[root(x)].add(x)
    return list(grouped.values())


def dismiss(session: Session, work_ids: list[int]) -> None:
    if len(set(work_ids)) != 2:
        raise InvalidInput("work_ids: name two different works", field="work_ids")
    a, b = sorted(set(work_ids))
    require_ids(session, Work, [a, b], "work_ids")
    if (
        session.scalar(
            select(WorkDistinction.id).where(
                WorkDistinction.work_a == a, WorkDistinction.work_b == b
            )
        )
        is None
    ):
        session.add(WorkDistinction(work_a=a, work_b=b))
        session.flush()


def merge(session: Session, work_ids: list[int], into: int | None) -> tuple[Work, dict[str, int]]:
    """Move every copy and every edge of the other works into one; delete the emptied works."""
    ids = list(dict.fromkeys(work_ids))
    if len(ids) < 2:
        raise InvalidInput("work_ids: name at least two different works", field="work_ids")
    require_ids(session, Work, ids, "work_ids")
    target = into if into is not None else min(ids)
    if target not in ids:
        raise InvalidInput("into: must be one of work_ids", field="into")
    others = [w for w in ids if w != target]
    moved_sources = list(session.scalars(select(Source.id).where(Source.work_id.in_(others))))
    session.execute(update(Source).where(Source.work_id.in_(others)).values(work_id=target))
    # Citation numbers belong to works: the merged works' numbers become the target's aliases.
    session.execute(
        update(ThreadCitation).where(ThreadCitation.work_id.in_(others)).values(work_id=target)
    )
    moved_edges = 0
    for side in ("from", "to"):
        type_col, id_col = getattr(Edge, f"{side}_type"), getattr(Edge, f"{side}_id")
        for edge in session.scalars(
            select(Edge).where(type_col == NodeType.work, id_col.in_(others))
        ):
            setattr(edge, f"{side}_id", target)
            self_loop = (edge.from_type, edge.from_id) == (edge.to_type, edge.to_id)
            if self_loop or _edge_exists(session, edge):
                session.delete(edge)  # a link within the merged work, or one the target has
            else:
                moved_edges += 1
            session.flush()
    session.execute(
        delete(WorkDistinction).where(
            or_(WorkDistinction.work_a.in_(others), WorkDistinction.work_b.in_(others))
        )
    )
    for work in session.scalars(select(Work).where(Work.id.in_(others))):
        session.delete(work)
    session.flush()
    mark(session, [("source", s) for s in moved_sources] + [("work", w) for w in ids])
    merged = session.get(Work, target)
    assert merged is not None
    return merged, {"moved_sources": len(moved_sources), "moved_edges": moved_edges}


def _edge_exists(session: Session, edge: Edge) -> bool:
    return (
        session.scalar(
            select(Edge.id).where(
                Edge.id != edge.id,
                Edge.from_type == edge.from_type,
                Edge.from_id == edge.from_id,
                Edge.relation == edge.relation,
                Edge.to_type == edge.to_type,
                Edge.to_id == edge.to_id,
            )
        )
        is not None
    )


def split(session: Session, work: Work, source_ids: list[int], title: str | None) -> Work:
    """Move some copies of `work` into a new work of their own (undoing a wrong grouping)."""
    ids = list(dict.fromkeys(source_ids))
    if not ids:
        raise InvalidInput("source_ids: name the copies to move out", field="source_ids")
    copies = set(session.scalars(select(Source.id).where(Source.work_id == work.id)))
    strangers = [s for s in ids if s not in copies]
    if strangers:
        raise InvalidInput(
            f"source_ids: {strangers} are not copies of work {work.id}", field="source_ids"
        )
    if set(ids) == copies:
        raise InvalidInput("source_ids: leave at least one copy in the work", field="source_ids")
    first = session.get(Source, ids[0])
    assert first is not None
    new = Work(title=title or first.title)
    session.add(new)
    session.flush()
    session.execute(update(Source).where(Source.id.in_(ids)).values(work_id=new.id))
    # A number first given to a moved copy follows it to its new work.
    session.execute(
        update(ThreadCitation).where(ThreadCitation.source_id.in_(ids)).values(work_id=new.id)
    )
    session.flush()
    mark(session, [("source", s) for s in ids] + [("work", work.id), ("work", new.id)])
    return new
