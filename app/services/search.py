"""Full-text search over sources, claims, perspectives and tensions.

SQLite: the FTS5 table `search_index` (kept in sync by triggers, migration 0002), ranked by
BM25 with the title weighted 10× the body. PostgreSQL: the generated `search_vector`
columns, ranked by ts_rank_cd (title weight A, body B). User text is reduced to words
before it reaches either engine, so FTS syntax in a query is just text. Copies of one work
are collapsed into one hit (the best-ranked copy, with the number of copies matched).

Text relevance alone barely separates hits when a query word is common in the corpus (a
debate about memorization mentions it everywhere), so the final score weights relevance by
how connected the item is in the debate graph: score = relevance × (1 + ½·ln(1 + degree)),
where a source's degree includes its work's (each copy of a work links to the work).
"""

import html
import math
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.models import Source

KINDS = ("source", "claim", "perspective", "tension")
OPEN, CLOSE = "\ue000", "\ue001"  # private-use sentinels, turned into <mark> after escaping
POOL = 500  # candidates ranked per query; pages are cut from this one ranked list
MAX_TOKENS = 32
_WORD = re.compile(r"\w+", re.UNICODE)

# PostgreSQL: table, title column, text shown in the body snippet.
PG_TABLES = {
    "source": ("sources", "title", "coalesce(abstract, '') || ' ' || coalesce(note, '')"),
    "claim": ("claims", "text", "coalesce(note, '')"),
    "perspective": ("perspectives", "label", "stance"),
    "tension": ("tensions", "title", "question"),
}


def words(query: str) -> list[str]:
    found = [w.lower() for w in _WORD.findall(query)][:MAX_TOKENS]
    if not found:
        raise InvalidInput("q: the query has no searchable words", field="query.q")
    return found


def _mark(snippet: str | None) -> str:
    escaped = html.escape(snippet or "")
    return escaped.replace(OPEN, "<mark>").replace(CLOSE, "</mark>")


def _sqlite(
    session: Session, tokens: list[str], kind: str | None, n: int, any_word: bool
) -> list[dict[str, Any]]:
    joiner = " OR " if any_word else " "
    match = joiner.join('"' + t.replace('"', "") + '"' for t in tokens)
    sql = (
        "SELECT kind, ref_id, "
        f"snippet(search_index, 2, '{OPEN}', '{CLOSE}', '…', 16) AS title_snip, "
        f"snippet(search_index, 3, '{OPEN}', '{CLOSE}', '…', 16) AS body_snip, "
        "bm25(search_index, 0.0, 0.0, 10.0, 1.0) AS rank "
        "FROM search_index WHERE search_index MATCH :match "
        + ("AND kind = :kind " if kind else "")
        + "ORDER BY rank LIMIT :n"
    )
    rows = session.execute(text(sql), {"match": match, "kind": kind, "n": n}).mappings()
    return [
        {
            "type": r["kind"],
            "id": int(r["ref_id"]),
            "score": round(-float(r["rank"]), 4),
            "title_snippet": r["title_snip"],
            "snippet": r["body_snip"],
        }
        for r in rows
    ]


def _postgres(
    session: Session, tokens: list[str], kind: str | None, n: int, any_word: bool
) -> list[dict[str, Any]]:
    query = (" | " if any_word else " & ").join(tokens)
    options = f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords=30, MinWords=8, HighlightAll=false"
    parts = []
    for name, (table, title, body) in PG_TABLES.items():
        if kind and kind != name:
            continue
        parts.append(
            f"SELECT '{name}' AS kind, id AS ref_id, ts_rank(search_vector, q, 1) AS rank, "
            f"ts_headline('english', {title}, q, 'HighlightAll=true, StartSel={OPEN}, "
            f"StopSel={CLOSE}') AS title_snip, "
            f"ts_headline('english', {body}, q, '{options}') AS body_snip "
            f"FROM {table}, to_tsquery('english', :query) AS q WHERE search_vector @@ q"
        )
    sql = " UNION ALL ".join(parts) + " ORDER BY rank DESC, kind, ref_id LIMIT :n"
    rows = session.execute(text(sql), {"query": query, "n": n}).mappings()
    return [
        {
            "type": r["kind"],
            "id": int(r["ref_id"]),
            "score": round(float(r["rank"]), 4),
            "title_snippet": r["title_snip"],
            "snippet": r["body_snip"],
        }
        for r in rows
    ]


def _collapse_works(session: Session, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    source_ids = [h["id"] for h in hits if h["type"] == "source"]
    works = dict(session.query(Source.id, Source.work_id).filter(Source.id.in_(source_ids)).all())
    out: list[dict[str, Any]] = []
    by_work: dict[int | None, dict[str, Any]] = {}
    for hit in hits:
        if hit["type"] != "source":
            out.append(hit)
            continue
        work_id = works.get(hit["id"])
        if work_id in by_work:
            by_work[work_id]["copies"] += 1
            continue
        hit = {**hit, "work_id": work_id, "copies": 1}
        by_work[work_id] = hit
        out.append(hit)
    return out


Degree = Callable[[str, int, int | None], int]


def _weight(hits: list[dict[str, Any]], degree: Degree | None) -> list[dict[str, Any]]:
    if degree is None:
        return hits
    for hit in hits:
        links = degree(hit["type"], hit["id"], hit.get("work_id"))
        hit["relevance"] = hit["score"]
        hit["score"] = round(hit["score"] * (1 + 0.5 * math.log1p(links)), 4)
    return sorted(hits, key=lambda h: (-h["score"], h["type"], h["id"]))


def search(
    session: Session,
    query: str,
    kind: str | None,
    limit: int,
    offset: int,
    degree: Degree | None = None,
) -> dict[str, Any]:
    tokens = words(query)
    engine = _postgres if session.get_bind().dialect.name == "postgresql" else _sqlite
    # One ranked pool per query, whatever the page: collapsing copies and re-weighting
    # reorder candidates, so pages cut from different pools would overlap.
    hits = engine(session, tokens, kind, POOL, any_word=False)
    matched = "all"
    if not hits and len(tokens) > 1:
        hits, matched = engine(session, tokens, kind, POOL, any_word=True), "any"
    hits = _weight(_collapse_works(session, hits), degree)
    items = [
        {**h, "title_snippet": _mark(h["title_snippet"]), "snippet": _mark(h["snippet"])}
        for h in hits[offset : offset + limit]
    ]
    return {
        "query": query,
        "words": tokens,
        "matched": matched,
        "total": len(hits),
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if offset + limit < len(hits) else None,
    }


def search_weighted(
    debate_graph: Any, session: Session, query: str, kind: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """`search`, with relevance weighted by each hit's degree in the debate graph (its own
    edges plus its work's)."""
    with debate_graph.reading(session) as g:

        def degree(node_type: str, node_id: int, work_id: int | None) -> int:
            own = g.degree(f"{node_type}:{node_id}") if f"{node_type}:{node_id}" in g else 0
            work = f"work:{work_id}"
            return own + (g.degree(work) if work_id is not None and work in g else 0)

        return search(session, query, kind, limit, offset, degree)
