"""Triage suggestions for a new item: the problems, tensions and claims it most likely bears
on, and the closest existing sources.

Two signals, on one similarity (cosine of sentence embeddings, or of TF-IDF vectors when
the embedding model is not installed):
* direct: how close the item's text is to the problem's (tension's, claim's) own text;
* neighbours: the item's closest existing sources vote, by their similarity, for the
  problems, tensions and claims they are already tied to (edges, evidence, tension sides).
A topic's score is the mean of the two, each scaled to [0, 1].
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.models import Claim, Edge, Evidence, Problem, Source, Tension, TensionSide
from app.models.edge import NodeType
from app.models.links import side_claims, side_sources, tension_sources
from app.services import embeddings

NEIGHBOURS = 5
TOPIC_KINDS = ("problem", "tension")
Node = tuple[str, int]


@dataclass
class Candidate:
    kind: str  # problem | tension | claim | source
    id: int
    title: str
    text: str
    work_id: int | None = None


def _join(*parts: str | None) -> str:
    return ". ".join(p.strip() for p in parts if p and p.strip())


def item_text(data: dict[str, Any]) -> str:
    return _join(data.get("title"), data.get("abstract"))


def candidates(session: Session, exclude_works: set[int]) -> list[Candidate]:
    found = [
        Candidate("problem", p.id, p.title, _join(p.title, p.summary, *(f.text for f in p.facets)))
        for p in session.scalars(select(Problem).options(selectinload(Problem.facets)))
    ]
    found += [
        Candidate("tension", t.id, t.title, _join(t.title, t.question, *(s.label for s in t.sides)))
        for t in session.scalars(select(Tension).options(selectinload(Tension.sides)))
    ]
    found += [
        Candidate("claim", c.id, c.text[:200], _join(c.text, c.note))
        for c in session.scalars(select(Claim))
    ]
    found += [
        Candidate("source", s.id, s.title, _join(s.title, s.abstract, s.note), s.work_id)
        for s in session.scalars(select(Source).order_by(Source.id))
        if s.work_id not in exclude_works
    ]
    return found


def source_links(session: Session) -> dict[int, set[Node]]:
    """source id -> the problems, tensions and claims it is tied to, directly or through
    a claim (its problem, the tension sides holding it) or a tension (its problem)."""
    links: dict[int, set[Node]] = defaultdict(set)
    for sid, pid in session.execute(
        select(Edge.from_id, Edge.to_id).where(
            Edge.from_type == NodeType.source, Edge.to_type == NodeType.problem
        )
    ):
        links[sid].add(("problem", pid))
    for evidence_source, cid in session.execute(select(Evidence.source_id, Evidence.claim_id)):
        if evidence_source is not None:  # evidence from an experiment run has no source
            links[evidence_source].add(("claim", cid))
    side_tension = dict(session.execute(select(TensionSide.id, TensionSide.tension_id)).all())
    for sid, side in session.execute(select(side_sources.c.source_id, side_sources.c.side_id)):
        links[sid].add(("tension", side_tension[side]))
    for sid, tid in session.execute(
        select(tension_sources.c.source_id, tension_sources.c.tension_id)
    ):
        links[sid].add(("tension", tid))
    claim_problem: dict[int, int | None] = dict(
        session.execute(select(Claim.id, Claim.problem_id)).all()
    )
    claim_tensions: dict[int, set[int]] = defaultdict(set)
    for cid, side in session.execute(select(side_claims.c.claim_id, side_claims.c.side_id)):
        claim_tensions[cid].add(side_tension[side])
    tension_problem: dict[int, int | None] = dict(
        session.execute(select(Tension.id, Tension.problem_id)).all()
    )
    for nodes in links.values():
        for kind, node_id in list(nodes):
            if kind == "claim":
                if (problem := claim_problem.get(node_id)) is not None:
                    nodes.add(("problem", problem))
                nodes.update(("tension", t) for t in claim_tensions[node_id])
        for kind, node_id in list(nodes):
            if kind == "tension" and (problem := tension_problem.get(node_id)) is not None:
                nodes.add(("problem", problem))
    return links


def _fulltext(query: str, texts: list[str]) -> np.ndarray:
    """Cosine similarity of TF-IDF vectors of `query` and each text."""
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=(1, 2))
    matrix = tfidf.fit_transform([query, *texts])  # rows are L2-normalised
    return np.asarray((matrix[1:] @ matrix[0].T).todense()).ravel()


def warm(session: Session, factory: sessionmaker[Session] | None, mode: str) -> int:
    """Embed every candidate text not embedded yet (no-op without the model); answers how
    many distinct texts there are."""
    model = embeddings.encoder(mode)
    texts = [c.text for c in candidates(session, set())]
    if model is not None and texts:
        embeddings.vectors(session, factory, model, texts)
    return len(set(texts))


def _scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def rank(
    found: list[Candidate],
    sims: np.ndarray,
    links: dict[int, set[Node]],
) -> dict[str, list[dict[str, Any]]]:
    """Candidates of each kind, best first, with their scores and why."""
    is_source = np.array([c.kind == "source" for c in found], dtype=bool)
    source_rows = np.flatnonzero(is_source)
    order = source_rows[np.argsort(-sims[source_rows], kind="stable")]
    neighbours = [i for i in order[:NEIGHBOURS] if sims[i] > 0]
    weight = sum(float(sims[i]) for i in neighbours)
    votes: dict[Node, float] = defaultdict(float)
    voters: dict[Node, list[int]] = defaultdict(list)
    for i in neighbours:
        for node in links.get(found[i].id, ()):
            votes[node] += float(sims[i]) / weight
            voters[node].append(found[i].id)
    topic_rows = np.flatnonzero(~is_source)
    direct = np.zeros(len(found))
    direct[topic_rows] = _scaled(np.clip(sims[topic_rows], 0, None))
    ranked: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in topic_rows:
        c = found[i]
        node = (c.kind, c.id)
        ranked[c.kind].append(
            {
                "type": c.kind,
                "id": c.id,
                "title": c.title,
                "score": round(0.5 * float(direct[i]) + 0.5 * votes[node], 4),
                "similarity": round(float(sims[i]), 4),
                "neighbour_sources": voters[node],
            }
        )
    seen_works: set[int | None] = set()
    for i in order:  # the closest copy of each work
        c = found[i]
        if c.work_id in seen_works:
            continue
        seen_works.add(c.work_id)
        ranked["source"].append(
            {
                "type": "source",
                "id": c.id,
                "title": c.title,
                "work_id": c.work_id,
                "score": round(float(sims[i]), 4),
                "similarity": round(float(sims[i]), 4),
            }
        )
    for rows in ranked.values():
        rows.sort(key=lambda r: (-r["score"], r["type"], r["id"]))
    ranked["topics"] = sorted(
        [r for kind in TOPIC_KINDS for r in ranked[kind]],
        key=lambda r: (-r["score"], r["type"], r["id"]),
    )
    return ranked


def suggest_many(
    session: Session,
    factory: sessionmaker[Session] | None,
    mode: str,
    items: list[dict[str, Any]],
    limit: int = 5,
    exclude_works: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Suggestions for each item, the candidates, their links and (with the model) their
    vectors read once for all of them."""
    found = candidates(session, exclude_works or set())
    links = source_links(session)
    texts = [c.text for c in found]
    queries = [item_text(data) for data in items]
    model = embeddings.encoder(mode)
    if model is not None:
        matrix = embeddings.vectors(session, factory, model, [*queries, *texts])
        corpus, method = matrix[len(queries) :], f"embedding:{model.name}"
        measured = [corpus @ matrix[i] for i in range(len(queries))]
    else:
        method = "fulltext:tfidf"
        measured = [_fulltext(query, texts) for query in queries]
    answers = []
    for sims in measured:
        ranked = rank(found, sims, links)
        answers.append(
            {
                "method": method,
                "topics": ranked["topics"][:limit],
                **{
                    f"{kind}s": ranked[kind][:limit]
                    for kind in ("problem", "tension", "claim", "source")
                },
            }
        )
    return answers


def suggest(
    session: Session,
    factory: sessionmaker[Session] | None,
    mode: str,
    data: dict[str, Any],
    limit: int = 5,
    exclude_works: set[int] | None = None,
) -> dict[str, Any]:
    return suggest_many(session, factory, mode, [data], limit, exclude_works)[0]
