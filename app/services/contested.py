"""How contested a claim is, counted in works (copies of one work count once).

supporting works S: distinct works of sources that `supports` or `replicates` the claim;
contesting works C: distinct works of sources that `contests` or `fails_to_replicate` it.
An endorsed experiment run counts as a work of its experiment (several runs of one
experiment count once, like copies of one paper).
score = 2·S·C / (S + C), the harmonic mean of the two sides times two: zero unless both
sides have evidence, and highest when both sides are large and balanced (3 vs 3 scores 3,
6 vs 1 scores 1.7). Ties go to more contesting works, then more supporting works.
"""

from typing import Any

from sqlalchemy import String, case, cast, distinct, func, literal, select
from sqlalchemy.orm import Session

from app.models import Evidence, ExperimentRun, Source
from app.models.common import EvidenceRelation, Id

SUPPORTING = {EvidenceRelation.supports, EvidenceRelation.replicates}
CONTESTING = {EvidenceRelation.contests, EvidenceRelation.fails_to_replicate}


def score(supporting: int, contesting: int) -> float:
    total = supporting + contesting
    return 0.0 if supporting == 0 or contesting == 0 else 2 * supporting * contesting / total


def summary(supports: int = 0, contests: int = 0, s_works: int = 0, c_works: int = 0) -> dict:
    return {
        "supports": supports,
        "contests": contests,
        "supporting_works": s_works,
        "contesting_works": c_works,
        "score": round(score(s_works, c_works), 4),
    }


def _work() -> Any:
    """The work an evidence row counts as: its source's work, or for an endorsed run
    "experiment:<name>" (several runs of one experiment count once)."""
    return func.coalesce(
        cast(Source.work_id, String), literal("experiment:") + ExperimentRun.experiment
    )


def _evidence_with_works(*columns: Any) -> Any:
    return (
        select(*columns)
        .select_from(Evidence)
        .outerjoin(Source, Source.id == Evidence.source_id)
        .outerjoin(ExperimentRun, ExperimentRun.id == Evidence.run_id)
    )


def by_claim(session: Session, claim_ids: list[Id] | None) -> dict[int, dict[str, Any]]:
    """Claim id → summary, for the claims (all when None) that have evidence. Counted in
    the database: a hub claim's thousands of evidence rows never reach Python."""
    supporting = Evidence.relation.in_(SUPPORTING)
    contesting = Evidence.relation.in_(CONTESTING)
    q = _evidence_with_works(
        Evidence.claim_id,
        func.sum(case((supporting, 1), else_=0)),
        func.sum(case((contesting, 1), else_=0)),
        func.count(distinct(case((supporting, _work())))),
        func.count(distinct(case((contesting, _work())))),
    ).group_by(Evidence.claim_id)
    if claim_ids is not None:
        q = q.where(Evidence.claim_id.in_(claim_ids))
    return {row[0]: summary(*row[1:]) for row in session.execute(q)}


def by_side(
    session: Session, claims_of_side: dict[Id, list[Id]], claims: dict[Id, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Side id → summary of the evidence on all its claims, where a work on two of them
    counts once. `claims`: by_claim of those claims. Sides share popular claims, so each
    claim's works are fetched once (distinct, through Core: no ORM rows) and united here."""
    claim_ids = sorted({c for ids in claims_of_side.values() for c in ids})
    works: dict[int, tuple[set[str], set[str]]] = {c: (set(), set()) for c in claim_ids}
    q = _evidence_with_works(Evidence.claim_id, Evidence.relation.in_(SUPPORTING), _work()).where(
        Evidence.claim_id.in_(claim_ids), Evidence.relation.in_(SUPPORTING | CONTESTING)
    )
    for claim_id, is_supporting, work in session.connection().execute(q.distinct()):
        if work is not None:
            works[claim_id][0 if is_supporting else 1].add(work)
    out = {}
    for side_id, ids in claims_of_side.items():
        s_works = set().union(*(works[c][0] for c in ids))
        c_works = set().union(*(works[c][1] for c in ids))
        out[side_id] = summary(
            sum(claims[c]["supports"] for c in ids if c in claims),
            sum(claims[c]["contests"] for c in ids if c in claims),
            len(s_works),
            len(c_works),
        )
    return out


def ranking(
    session: Session, claim_ids: set[int] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """(claim id, summary) for every claim (of `claim_ids`, if given) with contesting
    evidence, most contested first."""
    contested = [
        (cid, s)
        for cid, s in by_claim(session, None).items()
        if s["contesting_works"] > 0 and (claim_ids is None or cid in claim_ids)
    ]
    contested.sort(
        key=lambda x: (-x[1]["score"], -x[1]["contesting_works"], -x[1]["supporting_works"], x[0])
    )
    return contested
