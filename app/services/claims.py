"""Claims (with status history) and the evidence linking sources to them."""

from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import DuplicateIdentifier, InvalidInput
from app.models import Claim, ClaimStatusChange, Evidence, ExperimentRun, Problem, Source
from app.models.claim import (
    ClaimCreate,
    ClaimPublic,
    ClaimUpdate,
    EvidenceCreate,
    EvidencePublic,
    EvidenceSummary,
    EvidenceUpdate,
    RunTally,
)
from app.models.common import ClaimKind, ClaimStatus, EvidenceRelation, Id
from app.models.run import RunStatus
from app.services import contested
from app.services.crud import Resource, page
from app.services.refs import assign, contains, require_id, unique_slug


class ClaimFilters(BaseModel):
    problem_id: Id | None = None
    kind: ClaimKind | None = None
    status: ClaimStatus | None = None
    experiment: str | None = Field(None, max_length=100)
    source_id: Id | None = Field(None, description="Claims with evidence from this source.")
    q: str | None = Field(None, max_length=200, description="Substring of the text.")
    most_contested: bool = Field(
        False,
        description="Only claims with contesting evidence, ranked by 2·S·C/(S+C) where S and C "
        "count the distinct works supporting and contesting the claim; the other filters "
        "still choose the claims, `sort` does not apply.",
    )


def _filters(stmt: Select, f: ClaimFilters) -> Select:
    if f.problem_id is not None:
        stmt = stmt.where(Claim.problem_id == f.problem_id)
    if f.kind:
        stmt = stmt.where(Claim.kind == f.kind)
    if f.status:
        stmt = stmt.where(Claim.status == f.status)
    if f.experiment:
        stmt = stmt.where(Claim.experiment == f.experiment)
    if f.source_id is not None:
        stmt = stmt.where(
            Claim.id.in_(select(Evidence.claim_id).where(Evidence.source_id == f.source_id))
        )
    if f.q:
        stmt = stmt.where(contains(Claim.text, f.q))
    return stmt


def create_claim(session: Session, data: ClaimCreate) -> Claim:
    require_id(session, Problem, data.problem_id, "problem_id")
    claim = Claim(
        slug=unique_slug(session, Claim, data.slug, data.text[:60]),
        **data.model_dump(exclude={"slug", "scope"}),
        scope=data.scope.model_dump(),
    )
    session.add(claim)
    claim.status_history.append(
        ClaimStatusChange(from_status=None, to_status=data.status, reason="recorded")
    )
    session.flush()
    return claim


def update_claim(session: Session, claim: Claim, data: ClaimUpdate) -> Claim:
    if "problem_id" in data.model_fields_set:
        require_id(session, Problem, data.problem_id, "problem_id")
    old_status = claim.status
    if data.status_reason and data.status == old_status:
        raise InvalidInput(
            f"status_reason: the claim is already {old_status.value}; a reason needs a change",
            field="status_reason",
        )
    assign(claim, data, exclude={"status_reason", "changed_by"})
    if data.status is not None and data.status != old_status:
        claim.status_history.append(
            ClaimStatusChange(
                from_status=old_status,
                to_status=data.status,
                reason=data.status_reason,
                changed_by=data.changed_by,
            )
        )
    session.flush()
    return claim


class EvidenceFilters(BaseModel):
    claim_id: Id | None = None
    source_id: Id | None = None
    relation: EvidenceRelation | None = None
    run_id: Id | None = Field(None, description="Evidence from this experiment run.")


def _evidence_filters(stmt: Select, f: EvidenceFilters) -> Select:
    if f.claim_id is not None:
        stmt = stmt.where(Evidence.claim_id == f.claim_id)
    if f.source_id is not None:
        stmt = stmt.where(Evidence.source_id == f.source_id)
    if f.relation:
        stmt = stmt.where(Evidence.relation == f.relation)
    if f.run_id is not None:
        stmt = stmt.where(Evidence.run_id == f.run_id)
    return stmt


def _same_evidence(
    session: Session, claim_id: Id, source_id: Id | None, relation: EvidenceRelation
) -> int | None:
    return session.scalar(
        select(Evidence.id).where(
            Evidence.claim_id == claim_id,
            Evidence.source_id == source_id,
            Evidence.relation == relation,
        )
    )


def create_evidence(session: Session, data: EvidenceCreate) -> Evidence:
    require_id(session, Claim, data.claim_id, "claim_id")
    require_id(session, Source, data.source_id, "source_id")
    existing = _same_evidence(session, data.claim_id, data.source_id, data.relation)
    if existing is not None:
        raise DuplicateIdentifier(
            f"source {data.source_id} already {data.relation.value} claim {data.claim_id} "
            f"(evidence {existing})",
            field="relation",
            existing_id=existing,
        )
    evidence = Evidence(**data.model_dump())
    session.add(evidence)
    session.flush()
    return evidence


def update_evidence(session: Session, evidence: Evidence, data: EvidenceUpdate) -> Evidence:
    if evidence.run_id is not None and data.relation not in (None, evidence.relation):
        raise InvalidInput(
            f"relation: evidence {evidence.id} is experiment run {evidence.run_id}; its relation "
            "follows the run's verdict (delete the evidence to withdraw the endorsement)",
            field="relation",
        )
    if data.relation is not None and data.relation != evidence.relation:
        clash = _same_evidence(session, evidence.claim_id, evidence.source_id, data.relation)
        if clash is not None:
            raise DuplicateIdentifier(
                f"relation: evidence {clash} already records this relation",
                field="relation",
                existing_id=clash,
            )
    assign(evidence, data)
    return evidence


def publish_claims(session: Session, rows: list[Claim]) -> list[ClaimPublic]:
    summaries = contested.by_claim(session, [r.id for r in rows])
    tallies = run_tallies(session, {r.experiment for r in rows if r.experiment})
    return [
        ClaimPublic.model_validate(r).model_copy(
            update={
                "evidence_summary": EvidenceSummary(**summaries.get(r.id, contested.summary())),
                "runs": tallies.get(r.experiment or "") if r.experiment else None,
            }
        )
        for r in rows
    ]


def run_tallies(session: Session, experiments: set[str]) -> dict[str, RunTally]:
    """Finished runs per experiment, counted by outcome, in one query."""
    if not experiments:
        return {}
    endorsed = ExperimentRun.id.in_(select(Evidence.run_id).where(Evidence.run_id.is_not(None)))
    rows = session.execute(
        select(
            ExperimentRun.experiment,
            ExperimentRun.status,
            ExperimentRun.verdict,
            endorsed,
            func.count(),
            func.max(ExperimentRun.id),
        )
        .where(
            ExperimentRun.experiment.in_(experiments),
            ExperimentRun.status.in_([RunStatus.succeeded, RunStatus.failed]),
            # A control run checks that the verdict can fail; it says nothing about the claim.
            ExperimentRun.preset != "control",
        )
        .group_by(ExperimentRun.experiment, ExperimentRun.status, ExperimentRun.verdict, endorsed)
    )
    counts: dict[str, dict[str, int]] = {name: defaultdict(int) for name in experiments}
    latest: dict[str, int] = {}
    for name, status, verdict, is_endorsed, n, top in rows:
        c = counts[name]
        c[status.value] += n
        if verdict is not None:
            c[verdict.value] += n
        if is_endorsed:
            c["endorsed"] += n
        latest[name] = max(latest.get(name, 0), top)
    return {
        name: RunTally(
            **{k: c[k] for k in RunTally.model_fields if k != "latest_run_id"},
            latest_run_id=latest.get(name),
        )
        for name, c in counts.items()
    }


def most_contested(session: Session, filters: ClaimFilters, limit: int, offset: int) -> dict | None:
    if not filters.most_contested:
        return None
    # The other filters choose the claims; the score orders them (`sort` does not apply).
    chosen = set(session.scalars(_filters(select(Claim.id), filters)))
    ranked = contested.ranking(session, chosen)
    ids = [cid for cid, _ in ranked[offset : offset + limit]]
    rows = {
        c.id: c
        for c in session.scalars(
            select(Claim).where(Claim.id.in_(ids)).options(selectinload(Claim.status_history))
        )
    }
    return page(publish_claims(session, [rows[i] for i in ids]), len(ranked), limit, offset)


CLAIMS = Resource(
    name="claim",
    plural="claims",
    model=Claim,
    public=ClaimPublic,
    create_schema=ClaimCreate,
    update_schema=ClaimUpdate,
    create=create_claim,
    update=update_claim,
    filters_schema=ClaimFilters,
    apply_filters=_filters,
    sortable={
        "status": Claim.status,
        "kind": Claim.kind,
        "created_at": Claim.created_at,
        "updated_at": Claim.updated_at,
    },
    load_options=[selectinload(Claim.status_history)],
    publish_many=publish_claims,
    custom_list=most_contested,
)

EVIDENCE = Resource(
    name="evidence",
    plural="evidence",
    model=Evidence,
    public=EvidencePublic,
    create_schema=EvidenceCreate,
    update_schema=EvidenceUpdate,
    create=create_evidence,
    update=update_evidence,
    filters_schema=EvidenceFilters,
    apply_filters=_evidence_filters,
    sortable={"relation": Evidence.relation, "created_at": Evidence.created_at},
    has_slug=False,
)
