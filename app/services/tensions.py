"""Tensions: sides, cited sources and a dated, justified status history."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import InvalidInput
from app.models import (
    Claim,
    Evidence,
    ExperimentRun,
    Perspective,
    Problem,
    Source,
    Tension,
    TensionSide,
    TensionStatusChange,
    Thread,
)
from app.models.common import Id, TensionStatus, _as_utc
from app.models.links import (
    side_claims,
    side_perspectives,
    side_sources,
    status_change_sources,
    tension_sources,
)
from app.models.tension import (
    ClaimBrief,
    PerspectiveBrief,
    RunEvidence,
    SideIn,
    SidePublic,
    StatusChangePublic,
    TensionCreate,
    TensionPublic,
    TensionStatusChangeIn,
    TensionUpdate,
)
from app.services import contested
from app.services.crud import Resource
from app.services.refs import assign, require_id, require_ids, set_links, unique_slug


class TensionFilters(BaseModel):
    status: TensionStatus | None = None
    thread_id: Id | None = None
    problem_id: Id | None = None


def _filters(stmt: Select, f: TensionFilters) -> Select:
    if f.status:
        stmt = stmt.where(Tension.status == f.status)
    if f.thread_id is not None:
        stmt = stmt.where(Tension.thread_id == f.thread_id)
    if f.problem_id is not None:
        stmt = stmt.where(Tension.problem_id == f.problem_id)
    return stmt


def _check_refs(session: Session, data: TensionCreate | TensionUpdate) -> None:
    sent = data.model_fields_set
    if "thread_id" in sent:
        require_id(session, Thread, data.thread_id, "thread_id")
    if "problem_id" in sent:
        require_id(session, Problem, data.problem_id, "problem_id")
    require_ids(session, Source, data.source_ids or [], "source_ids")
    for i, side in enumerate(data.sides or []):
        require_ids(session, Claim, side.claim_ids, f"sides.{i}.claim_ids")
        require_ids(session, Perspective, side.perspective_ids, f"sides.{i}.perspective_ids")
        require_ids(session, Source, side.source_ids, f"sides.{i}.source_ids")


def _write_sides(session: Session, tension: Tension, sides: list[SideIn]) -> None:
    tension.sides.clear()
    session.flush()
    for position, side_in in enumerate(sides):
        side = TensionSide(label=side_in.label, position=position)
        tension.sides.append(side)
        session.flush()
        set_links(session, side_claims, "side_id", side.id, "claim_id", side_in.claim_ids)
        set_links(
            session,
            side_perspectives,
            "side_id",
            side.id,
            "perspective_id",
            side_in.perspective_ids,
        )
        set_links(session, side_sources, "side_id", side.id, "source_id", side_in.source_ids)


def _write_children(
    session: Session, tension: Tension, data: TensionCreate | TensionUpdate
) -> None:
    if data.source_ids is not None:
        set_links(session, tension_sources, "tension_id", tension.id, "source_id", data.source_ids)
    if data.sides is not None:
        _write_sides(session, tension, data.sides)
    session.flush()
    session.expire(tension, ["sources"])


def create_tension(session: Session, data: TensionCreate) -> Tension:
    _check_refs(session, data)
    tension = Tension(
        slug=unique_slug(session, Tension, data.slug, data.title),
        **data.model_dump(exclude={"slug", "source_ids", "sides"}),
    )
    session.add(tension)
    session.flush()
    tension.status_history.append(
        TensionStatusChange(from_status=None, to_status=data.status, reason="recorded")
    )
    _write_children(session, tension, data)
    return tension


def update_tension(session: Session, tension: Tension, data: TensionUpdate) -> Tension:
    _check_refs(session, data)
    assign(tension, data, exclude={"source_ids", "sides"})
    _write_children(session, tension, data)
    return tension


def _check_changed_at(tension: Tension, when: datetime) -> None:
    """History is a chain: a change cannot predate the last one or lie in the future."""
    latest = max((_as_utc(h.changed_at) for h in tension.status_history), default=None)
    if latest is not None and when < latest:
        raise InvalidInput(
            f"changed_at: {when.isoformat()} is before the last recorded change "
            f"({latest.isoformat()})",
            field="changed_at",
        )
    if when > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidInput("changed_at: may not lie in the future", field="changed_at")


def change_status(session: Session, tension: Tension, data: TensionStatusChangeIn) -> Tension:
    """Record who changed the status, when, why and on which sources."""
    require_ids(session, Source, data.source_ids, "source_ids")
    if data.status == tension.status:
        raise InvalidInput(f"status: the tension is already {tension.status.value}", field="status")
    if data.changed_at is not None:
        _check_changed_at(tension, data.changed_at)
    change = TensionStatusChange(
        from_status=tension.status,
        to_status=data.status,
        reason=data.reason,
        changed_by=data.changed_by,
    )
    if data.changed_at is not None:
        change.changed_at = data.changed_at
    tension.status_history.append(change)
    tension.status = data.status
    session.flush()
    set_links(session, status_change_sources, "change_id", change.id, "source_id", data.source_ids)
    session.flush()
    session.expire(change, ["sources"])
    return tension


def _endorsed_runs(session: Session, claim_ids: list[int]) -> dict[int, list[RunEvidence]]:
    """Claim id → the experiment runs endorsed as evidence on it."""
    rows = session.execute(
        select(
            Evidence.id,
            Evidence.claim_id,
            Evidence.relation,
            ExperimentRun.id,
            ExperimentRun.experiment,
            ExperimentRun.seed,
            ExperimentRun.verdict,
        )
        .join(ExperimentRun, ExperimentRun.id == Evidence.run_id)
        .where(Evidence.claim_id.in_(claim_ids))
        .order_by(Evidence.id)
    )
    found: dict[int, list[RunEvidence]] = defaultdict(list)
    for eid, cid, relation, rid, name, seed, verdict in rows:
        found[cid].append(
            RunEvidence(
                run_id=rid,
                experiment=name,
                seed=seed,
                verdict=verdict.value if verdict else None,
                claim_id=cid,
                evidence_id=eid,
                relation=relation.value,
            )
        )
    return found


def publish_tensions(session: Session, rows: list[Tension]) -> list[TensionPublic]:
    """Tensions with, per side, its claims and perspectives and the evidence on its claims."""
    claim_ids = sorted({c.id for t in rows for side in t.sides for c in side.claims})
    summaries = contested.by_claim(session, claim_ids)
    side_summaries = contested.by_side(
        session, {side.id: [c.id for c in side.claims] for t in rows for side in t.sides}, summaries
    )
    empty = contested.summary()
    runs = _endorsed_runs(session, claim_ids)

    def side_out(side: TensionSide) -> SidePublic:
        return SidePublic(
            id=side.id,
            label=side.label,
            claim_ids=side.claim_ids,
            perspective_ids=side.perspective_ids,
            source_ids=side.source_ids,
            claims=[
                ClaimBrief(
                    id=c.id,
                    slug=c.slug,
                    text=c.text,
                    status=str(c.status.value),
                    evidence_summary=summaries.get(c.id, empty),
                )
                for c in side.claims
            ],
            perspectives=[
                PerspectiveBrief(id=p.id, slug=p.slug, label=p.label) for p in side.perspectives
            ],
            evidence=side_summaries.get(side.id, empty),
            experiment_runs=[r for c in side.claims for r in runs.get(c.id, [])],
        )

    return [
        TensionPublic(
            id=t.id,
            created_at=t.created_at,
            updated_at=t.updated_at,
            slug=t.slug,
            thread_id=t.thread_id,
            problem_id=t.problem_id,
            title=t.title,
            question=t.question,
            status=t.status,
            source_ids=t.source_ids,
            sides=[side_out(side) for side in t.sides],
            status_history=[StatusChangePublic.model_validate(h) for h in t.status_history],
        )
        for t in rows
    ]


RESOURCE = Resource(
    name="tension",
    plural="tensions",
    model=Tension,
    public=TensionPublic,
    create_schema=TensionCreate,
    update_schema=TensionUpdate,
    create=create_tension,
    update=update_tension,
    filters_schema=TensionFilters,
    apply_filters=_filters,
    sortable={
        "position": Tension.position,
        "status": Tension.status,
        "title": Tension.title,
        "created_at": Tension.created_at,
        "updated_at": Tension.updated_at,
    },
    default_sort="position",
    load_options=[
        selectinload(Tension.sources),
        selectinload(Tension.sides).selectinload(TensionSide.claims),
        selectinload(Tension.sides).selectinload(TensionSide.perspectives),
        selectinload(Tension.sides).selectinload(TensionSide.sources),
        selectinload(Tension.status_history).selectinload(TensionStatusChange.sources),
    ],
    publish_many=publish_tensions,
)
