"""A resource description and the generic read/list operations every entity shares."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.models.common import MAX_ID


class NoFilters(BaseModel):
    pass


@dataclass
class Resource:
    """Everything the generic CRUD layer needs to know about one entity."""

    name: str
    plural: str
    model: Any
    public: Any
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    create: Callable[[Session, Any], Any]
    update: Callable[[Session, Any, Any], Any]
    filters_schema: type[BaseModel] = NoFilters
    apply_filters: Callable[[Select, Any], Select] = lambda stmt, _f: stmt
    sortable: dict[str, Any] = field(default_factory=dict)
    default_sort: str = "id"
    load_options: list[Any] = field(default_factory=list)
    has_slug: bool = True
    # Optional: turn many rows into public models at once (to batch extra queries).
    publish_many: Callable[[Session, list[Any]], list[Any]] | None = None
    # Optional: a list answered differently for some filters (returns None otherwise).
    custom_list: Callable[[Session, Any, int, int], dict[str, Any] | None] | None = None
    # The resource's routes define POST themselves (e.g. sources take one or many).
    custom_create: bool = False
    # Optional: refuse a delete (raise) before anything happens.
    before_delete: Callable[[Session, Any], None] | None = None
    # Optional: tidy up after a row is deleted (e.g. drop a work left without copies).
    after_delete: Callable[[Session, Any], None] | None = None
    # Optional: GET by numeric id on the direct SQLite path (reader, id) -> JSON or None.
    fast_get: Callable[[Any, int], bytes | None] | None = None

    def publish(self, session: Session, rows: list[Any]) -> list[Any]:
        if self.publish_many is not None:
            return self.publish_many(session, rows)
        return [self.public.from_row(r) for r in rows]

    def publish_one(self, session: Session, row: Any) -> Any:
        return self.publish(session, [row])[0]


def get_row(session: Session, res: Resource, ref: str | int) -> Any:
    """Fetch by numeric id or, for entities with slugs, by slug; 404 otherwise."""
    stmt = select(res.model).options(*res.load_options)
    ref_text = str(ref)
    if ref_text.isascii() and ref_text.isdigit():
        if int(ref_text) > MAX_ID:
            raise NotFound(f"{res.name} {ref_text} not found", field="id")
        stmt = stmt.where(res.model.id == int(ref_text))
    elif res.has_slug:
        stmt = stmt.where(res.model.slug == ref_text)
    else:
        raise NotFound(f"{res.name} '{ref_text}' not found: use its numeric id", field="id")
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"{res.name} {ref_text} not found", field="id")
    return row


def _order_by(res: Resource, sort: str | None) -> list[Any]:
    spec = sort or res.default_sort
    columns = []
    for part in spec.split(","):
        name = part.strip()
        desc = name.startswith("-")
        name = name[1:] if desc else name
        allowed = {"id": res.model.id, **res.sortable}
        if name not in allowed:
            raise InvalidInput(
                f"sort: cannot sort {res.plural} by '{name}'; choose from {sorted(allowed)}",
                field="query.sort",
            )
        column = allowed[name]
        columns.append(column.desc().nulls_last() if desc else column.asc().nulls_last())
    columns.append(res.model.id.asc())
    return columns


def list_rows(
    session: Session, res: Resource, filters: Any, limit: int, offset: int, sort: str | None
) -> dict[str, Any]:
    if res.custom_list is not None:
        custom = res.custom_list(session, filters, limit, offset)
        if custom is not None:
            return custom
    base = res.apply_filters(select(res.model), filters)
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    stmt = (
        base.options(*res.load_options).order_by(*_order_by(res, sort)).limit(limit).offset(offset)
    )
    rows = session.scalars(stmt).unique().all()
    return page(res.publish(session, list(rows)), total, limit, offset)


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    next_offset = offset + limit if offset + limit < total else None
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }
