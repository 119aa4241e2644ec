"""Explicit typed edges between any two nodes of the debate."""

from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.errors import DuplicateIdentifier, InvalidInput
from app.models import (
    Actor,
    Claim,
    Edge,
    Evidence,
    Perspective,
    Problem,
    Source,
    Tension,
    Thread,
    TimelineEvent,
    Work,
)
from app.models.common import Id
from app.models.edge import EdgeCreate, EdgePublic, EdgeUpdate, NodeType, Relation
from app.services.crud import Resource
from app.services.refs import assign

NODE_MODELS = {
    NodeType.problem: Problem,
    NodeType.source: Source,
    NodeType.work: Work,
    NodeType.actor: Actor,
    NodeType.claim: Claim,
    NodeType.evidence: Evidence,
    NodeType.perspective: Perspective,
    NodeType.tension: Tension,
    NodeType.event: TimelineEvent,
    NodeType.thread: Thread,
}


class EdgeFilters(BaseModel):
    from_type: NodeType | None = None
    from_id: Id | None = None
    to_type: NodeType | None = None
    to_id: Id | None = None
    relation: Relation | None = None


def _filters(stmt: Select, f: EdgeFilters) -> Select:
    for name in ("from_type", "from_id", "to_type", "to_id", "relation"):
        value = getattr(f, name)
        if value is not None:
            stmt = stmt.where(getattr(Edge, name) == value)
    return stmt


def create_edge(session: Session, data: EdgeCreate) -> Edge:
    for side in ("from", "to"):
        if getattr(data, f"{side}_type") is NodeType.evidence:
            raise InvalidInput(
                f"{side}_type: evidence is itself a link (source → claim); link its source or "
                "claim instead",
                field=f"{side}_type",
            )
        node_type, node_id = getattr(data, f"{side}_type"), getattr(data, f"{side}_id")
        if session.get(NODE_MODELS[node_type], node_id) is None:
            raise InvalidInput(
                f"{side}_id: {node_type.value} {node_id} does not exist", field=f"{side}_id"
            )
    if (data.from_type, data.from_id) == (data.to_type, data.to_id):
        raise InvalidInput("to_id: an edge cannot link a node to itself", field="to_id")
    existing = session.scalar(
        select(Edge.id).where(
            Edge.from_type == data.from_type,
            Edge.from_id == data.from_id,
            Edge.relation == data.relation,
            Edge.to_type == data.to_type,
            Edge.to_id == data.to_id,
        )
    )
    if existing is not None:
        raise DuplicateIdentifier(
            f"this edge already exists as edge {existing}", field="relation", existing_id=existing
        )
    edge = Edge(**data.model_dump())
    session.add(edge)
    session.flush()
    return edge


def update_edge(session: Session, edge: Edge, data: EdgeUpdate) -> Edge:
    assign(edge, data)
    return edge


RESOURCE = Resource(
    name="edge",
    plural="edges",
    model=Edge,
    public=EdgePublic,
    create_schema=EdgeCreate,
    update_schema=EdgeUpdate,
    create=create_edge,
    update=update_edge,
    filters_schema=EdgeFilters,
    apply_filters=_filters,
    sortable={"relation": Edge.relation, "created_at": Edge.created_at},
    has_slug=False,
)
