"""How contested a claim is, counted in works (copies of one work count once).

supporting works S: distinct works of sources that `supports` or `replicates` the claim;
contesting works C: distinct works of sources that `contests` or `fails_to_replicate` it.
An endorsed experiment run counts as a work of its experiment (several runs of one
experiment count once, like copies of one paper).
score = 2·S·C / (S + C), the harmonic mean of the two sides times two: zero unless both
sides have evidence, and highest when both sides are large and balanced (3 vs 3 scores 3,
6 vs 1 scores 1.7). Ties go to more contesting works, then more supporting works.
"""

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Evidence, ExperimentRun, Source
from app.models.common import EvidenceRelation, Id

SUPPORTING = {EvidenceRelation.supports, EvidenceRelation.replicates}
CONTESTING = {EvidenceRelation.contests, EvidenceRelation.fails_to_replicate}


def score(supporting: int, contesting: int) -> float:
    total = supporting + contesting
    return 0.0 if supporting == 0 or contesting == 0 else 2 * supporting * contesting / total


class Tally:
    """Evidence counted by side: rows, and the distinct works behind them."""

    def __init__(self, rows: list[tuple[Any, int | None, int | None]] = ()) -> None:  # type: ignore[assignment]
        self.supports = self.contests = 0
        # Work ids, or "experiment:<name>" for endorsed runs.
        self.s_works: set[int | str] = set()
        self.c_works: set[int | str] = set()
        for relation, _source, work in rows:
            if relation in SUPPORTING:
                self.supports += 1
                if work is not None:
                    self.s_works.add(work)
            elif relation in CONTESTING:
                self.contests += 1
                if work is not None:
                    self.c_works.add(work)

    def add(self, other: "Tally") -> "Tally":
        self.supports += other.supports
        self.contests += other.contests
        self.s_works |= other.s_works
        self.c_works |= other.c_works
        return self

    def summary(self) -> dict[str, Any]:
        s, c = len(self.s_works), len(self.c_works)
        return {
            "supports": self.supports,
            "contests": self.contests,
            "supporting_works": s,
            "contesting_works": c,
            "score": round(score(s, c), 4),
        }


def summarize(rows: list[tuple[Any, int | None, int | None]]) -> dict[str, Any]:
    """rows: (relation, source id, work id) of a claim's (or a side's) evidence."""
    return Tally(rows).summary()


def evidence_by_claim(
    session: Session, claim_ids: list[Id] | None
) -> dict[int, list[tuple[Any, int | None, int | None]]]:
    q = (
        select(
            Evidence.claim_id,
            Evidence.relation,
            Evidence.source_id,
            Source.work_id,
            ExperimentRun.experiment,
        )
        .outerjoin(Source, Source.id == Evidence.source_id)
        .outerjoin(ExperimentRun, ExperimentRun.id == Evidence.run_id)
    )
    if claim_ids is not None:
        q = q.where(Evidence.claim_id.in_(claim_ids))
    grouped: dict[int, list[tuple[Any, int | None, Any]]] = defaultdict(list)
    for claim_id, relation, source_id, work_id, experiment in session.execute(q):
        work = work_id if work_id is not None else experiment and f"experiment:{experiment}"
        grouped[claim_id].append((relation, source_id, work))
    return grouped


def ranking(
    session: Session, claim_ids: set[int] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """(claim id, summary) for every claim (of `claim_ids`, if given) with contesting
    evidence, most contested first."""
    summaries = {
        cid: summarize(rows)
        for cid, rows in evidence_by_claim(session, None).items()
        if claim_ids is None or cid in claim_ids
    }
    contested = [(cid, s) for cid, s in summaries.items() if s["contesting_works"] > 0]
    contested.sort(
        key=lambda x: (-x[1]["score"], -x[1]["contesting_works"], -x[1]["supporting_works"], x[0])
    )
    return contested
