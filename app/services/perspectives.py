"""Perspectives: positions held in a thread, with their evolution per version."""

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import InvalidInput
from app.models import Actor, Claim, Perspective, PerspectiveEvolution, Source, Thread
from app.models.common import Id
from app.models.links import perspective_claims, perspective_sources
from app.models.perspective import (
    EvolutionEntry,
    PerspectiveCreate,
    PerspectivePublic,
    PerspectiveUpdate,
)
from app.services.crud import Resource
from app.services.refs import assign, require_id, require_ids, set_links, unique_slug


class PerspectiveFilters(BaseModel):
    thread_id: Id | None = None
    actor_id: Id | None = None


def _filters(stmt: Select, f: PerspectiveFilters) -> Select:
    if f.thread_id is not None:
        stmt = stmt.where(Perspective.thread_id == f.thread_id)
    if f.actor_id is not None:
        stmt = stmt.where(Perspective.actor_id == f.actor_id)
    return stmt


def _check_refs(session: Session, data: PerspectiveCreate | PerspectiveUpdate) -> None:
    sent = data.model_fields_set
    if "thread_id" in sent:
        require_id(session, Thread, data.thread_id, "thread_id")
    if "actor_id" in sent:
        require_id(session, Actor, data.actor_id, "actor_id")
    require_ids(session, Source, data.source_ids or [], "source_ids")
    require_ids(session, Claim, data.claim_ids or [], "claim_ids")
    versions = [e.version for e in data.evolution or []]
    if len(versions) != len(set(versions)):
        raise InvalidInput("evolution: one entry per version", field="evolution")


def _write_evolution(
    session: Session, perspective: Perspective, entries: list[EvolutionEntry]
) -> None:
    perspective.evolution.clear()
    session.flush()
    perspective.evolution.extend(PerspectiveEvolution(**e.model_dump()) for e in entries)


def _write_links(
    session: Session, p: Perspective, data: PerspectiveCreate | PerspectiveUpdate
) -> None:
    if data.source_ids is not None:
        set_links(
            session, perspective_sources, "perspective_id", p.id, "source_id", data.source_ids
        )
    if data.claim_ids is not None:
        set_links(session, perspective_claims, "perspective_id", p.id, "claim_id", data.claim_ids)
    if data.evolution is not None:
        _write_evolution(session, p, data.evolution)
    session.flush()
    session.expire(p, ["sources", "claims"])


def create_perspective(session: Session, data: PerspectiveCreate) -> Perspective:
    _check_refs(session, data)
    perspective = Perspective(
        slug=unique_slug(session, Perspective, data.slug, data.label),
        **data.model_dump(exclude={"slug", "source_ids", "claim_ids", "evolution"}),
    )
    session.add(perspective)
    session.flush()
    _write_links(session, perspective, data)
    return perspective


def update_perspective(
    session: Session, perspective: Perspective, data: PerspectiveUpdate
) -> Perspective:
    _check_refs(session, data)
    assign(perspective, data, exclude={"source_ids", "claim_ids", "evolution"})
    _write_links(session, perspective, data)
    return perspective


RESOURCE = Resource(
    name="perspective",
    plural="perspectives",
    model=Perspective,
    public=PerspectivePublic,
    create_schema=PerspectiveCreate,
    update_schema=PerspectiveUpdate,
    create=create_perspective,
    update=update_perspective,
    filters_schema=PerspectiveFilters,
    apply_filters=_filters,
    sortable={
        "position": Perspective.position,
        "label": Perspective.label,
        "created_at": Perspective.created_at,
    },
    default_sort="position",
    load_options=[
        selectinload(Perspective.evolution),
        selectinload(Perspective.sources),
        selectinload(Perspective.claims),
    ],
)
