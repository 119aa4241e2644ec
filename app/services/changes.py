"""Marks graph nodes touched by a write, in the write's own transaction (graph_changes).

ORM writes are caught after each flush; writes to link tables through Core call `mark`.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from app.models import (
    Edge,
    Evidence,
    GraphChange,
    ProblemFacet,
    TensionSide,
    TensionStatusChange,
    ThreadItem,
)
from app.models.common import Id

Node = tuple[str, int]


def _owners(obj: Any) -> list[Node]:
    """Graph nodes whose edges change when `obj` (a row) changes."""
    node_type = getattr(type(obj), "__node_type__", None)
    if node_type and obj.id is not None:
        if isinstance(obj, Evidence) and obj.run_id is not None:
            return [(node_type, obj.id), ("run", obj.run_id)]  # the run node is endorsed or not
        return [(node_type, obj.id)]
    if isinstance(obj, Edge) and obj.id is not None:
        return [("edge", obj.id)]  # an edge row owns the graph edge it describes
    if isinstance(obj, ThreadItem):
        return [("source", obj.source_id), ("thread", obj.thread_id)]
    if isinstance(obj, TensionSide | TensionStatusChange) and obj.tension_id:
        return [("tension", obj.tension_id)]
    if isinstance(obj, ProblemFacet) and obj.problem_id:
        return [("problem", obj.problem_id)]
    return []


def mark(session: Session, nodes: Iterable[Node]) -> None:
    seen: set[Node] = session.info.setdefault("graph_touched", set())
    fresh = [n for n in dict.fromkeys(nodes) if n not in seen and n[1] is not None]
    if not fresh:
        return
    seen.update(fresh)
    session.connection().execute(
        insert(GraphChange), [{"node_type": t, "node_id": i} for t, i in fresh]
    )


# Link tables written through Core, by owner column: how to find the graph node to refresh.
_SIDE_OWNER = "SELECT tension_id FROM tension_sides WHERE id = :id"
_CHANGE_OWNER = "SELECT tension_id FROM tension_status_changes WHERE id = :id"
LINK_OWNERS: dict[str, tuple[str, str | None]] = {
    "problem_actors": ("problem", None),
    "perspective_sources": ("perspective", None),
    "perspective_claims": ("perspective", None),
    "tension_sources": ("tension", None),
    "event_sources": ("event", None),
    "side_claims": ("tension", _SIDE_OWNER),
    "side_perspectives": ("tension", _SIDE_OWNER),
    "side_sources": ("tension", _SIDE_OWNER),
    "status_change_sources": ("tension", _CHANGE_OWNER),
}


def mark_link_owner(session: Session, table_name: str, owner_id: Id) -> None:
    spec = LINK_OWNERS.get(table_name)
    if spec is None:
        return
    node_type, lookup = spec
    if lookup is not None:
        from sqlalchemy import text

        found = session.connection().execute(text(lookup), {"id": owner_id}).scalar()
        if found is None:
            return
        owner_id = found
    mark(session, [(node_type, owner_id)])


def mark_link_targets(session: Session, table: Any, column: Any, value: int) -> None:
    """Before deleting link rows that point at `value`, mark their owners."""
    owner_col = next(c for c in table.primary_key.columns if c is not column)
    for owner_id in session.scalars(select(owner_col).where(column == value)):
        mark_link_owner(session, table.name, owner_id)
        if table.name == "problem_actors":
            mark(session, [("actor", value)])


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    nodes: list[Node] = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        nodes += _owners(obj)
    if nodes:
        mark(session, nodes)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _reset(session: Session) -> None:
    session.info.pop("graph_touched", None)
