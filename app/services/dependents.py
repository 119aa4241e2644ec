"""Who depends on a row, and deleting with or without its dependents.

Found from the schema itself: every foreign key pointing at the row's table that does not
cascade on delete is a dependency, plus edges naming the row as an endpoint.
"""

from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from app.core.errors import HasDependents
from app.models import Base, Edge
from app.models.common import Id
from app.models.links import LINK_TABLES
from app.services.changes import mark_link_targets

MAX_LISTED = 50


def _referencing(table: Table) -> list[tuple[Table, Any]]:
    """(child table, child column) for each non-cascading FK into `table`."""
    refs = []
    for child in Base.metadata.sorted_tables:
        for fk in child.foreign_keys:
            owned = fk.ondelete in ("CASCADE", "SET NULL")  # children, or links that let go
            if fk.column.table is table and not owned and child is not table:
                refs.append((child, fk.parent))
    return refs


def _model_for(table: Table) -> Any:
    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    return None


def node_type_of(model: Any) -> str | None:
    return getattr(model, "__node_type__", None)


def _edge_filter(node_type: str, node_id: Id) -> Any:
    return or_(
        and_(Edge.from_type == node_type, Edge.from_id == node_id),
        and_(Edge.to_type == node_type, Edge.to_id == node_id),
    )


def find_dependents(session: Session, obj: Any) -> list[dict[str, Any]]:
    table = obj.__table__
    found: list[dict[str, Any]] = []
    for child, column in _referencing(table):
        key = (
            next(c for c in child.primary_key.columns if c is not column)
            if child.name in LINK_TABLES
            else child.c.id
        )
        _add(session, found, child.name, column.name, key, column == obj.id)
    node_type = node_type_of(type(obj))
    if node_type:
        _add(session, found, "edges", "endpoint", Edge.id, _edge_filter(node_type, obj.id))
    return found


def _add(
    session: Session, found: list[dict[str, Any]], table: str, via: str, key: Any, where: Any
) -> None:
    """Append {table, via, count, ids}: the true count and at most MAX_LISTED ids (for link
    tables, the ids of the rows that hold the link)."""
    count = session.scalar(select(func.count()).select_from(key.table).where(where)) or 0
    if count:
        ids = list(session.scalars(select(key).where(where).order_by(key).limit(MAX_LISTED)))
        found.append(
            {
                "table": table,
                "via": via,
                "count": count,
                "ids": ids,
                "complete": count <= MAX_LISTED,
            }
        )


def delete_row(session: Session, obj: Any, cascade: bool) -> None:
    """Delete `obj`; with dependents, 409 listing them unless `cascade` deletes them too."""
    if not cascade:
        dependents = find_dependents(session, obj)
        if dependents:
            names = ", ".join(f"{d['count']} in {d['table']}" for d in dependents)
            raise HasDependents(
                f"{type(obj).__name__} {obj.id} is referenced by other rows ({names}); "
                "delete them first or repeat with ?cascade=true",
                details={"dependents": dependents},
            )
    else:
        _delete_dependents(session, obj)
    session.delete(obj)
    session.flush()


def _delete_dependents(session: Session, obj: Any) -> None:
    for child, column in _referencing(obj.__table__):
        if child.name in LINK_TABLES:
            mark_link_targets(session, child, column, obj.id)
            session.execute(delete(child).where(column == obj.id))
            continue
        model = _model_for(child)
        for dependent in session.scalars(select(model).where(getattr(model, column.key) == obj.id)):
            _delete_dependents(session, dependent)
            session.delete(dependent)
        session.flush()
    node_type = node_type_of(type(obj))
    if node_type:
        session.execute(delete(Edge).where(_edge_filter(node_type, obj.id)))
