"""Checks and writes for references between rows: ids that must exist, links, slugs."""

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from app.core.errors import DuplicateIdentifier, InvalidInput
from app.models.common import Id, slugify


def dedupe(ids: Iterable[int]) -> list[int]:
    seen: set[int] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]


def require_ids(session: Session, model: Any, ids: Sequence[int], field: str) -> None:
    """422 naming the first id in `ids` that has no row in `model`'s table."""
    wanted = set(ids)
    if not wanted:
        return
    found = set(session.scalars(select(model.id).where(model.id.in_(wanted))))
    for index, value in enumerate(ids):
        if value not in found:
            name = model.__tablename__.rstrip("s")
            raise InvalidInput(
                f"{field}: {name} {value} does not exist",
                field=field if len(ids) == 1 and not field.endswith("_ids") else f"{field}.{index}",
            )


def require_id(session: Session, model: Any, value: int | None, field: str) -> None:
    if value is not None and session.get(model, value) is None:
        name = model.__tablename__.rstrip("s")
        raise InvalidInput(f"{field}: {name} {value} does not exist", field=field)


def set_links(
    session: Session, table: Table, owner_col: str, owner_id: Id, target_col: str, ids: list[int]
) -> None:
    """Replace the link rows of one owner, keeping the order of `ids`."""
    from app.services.changes import mark_link_owner

    mark_link_owner(session, table.name, owner_id)
    session.execute(delete(table).where(table.c[owner_col] == owner_id))
    rows = [
        {owner_col: owner_id, target_col: target, "position": pos}
        for pos, target in enumerate(dedupe(ids))
    ]
    if rows:
        session.execute(insert(table), rows)


def unique_slug(
    session: Session, model: Any, wanted: str | None, basis: str, own_id: Id | None = None
) -> str:
    """An explicit slug must be free (409); a derived one gets a numeric suffix if taken."""
    if wanted:
        existing = session.scalar(select(model.id).where(model.slug == wanted))
        if existing is not None and existing != own_id:
            raise DuplicateIdentifier(
                f"slug '{wanted}' is already used by {model.__tablename__.rstrip('s')} {existing}",
                field="slug",
                existing_id=existing,
            )
        return wanted
    base = slugify(basis)
    if session.info.get("attempt", 0) > 0:
        # A concurrent writer took the slug we derived last time: step off the shared path.
        base = f"{base[:72]}-{secrets.token_hex(3)}"
    candidate, n = base, 2
    while session.scalar(select(model.id).where(model.slug == candidate)) is not None:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def assign(obj: Any, data: Any, exclude: set[str] = frozenset()) -> dict[str, tuple[Any, Any]]:  # type: ignore[assignment]
    """Copy the fields the client sent onto `obj`; return {field: (old, new)} that changed."""
    changed = {}
    columns = obj.__table__.c
    for name in sorted(data.model_fields_set - set(exclude)):
        value = getattr(data, name)
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if value is None and name in columns and not columns[name].nullable:
            raise InvalidInput(f"{name}: may not be null", field=name)
        old = getattr(obj, name, None)
        if old != value:
            changed[name] = (old, value)
            setattr(obj, name, value)
    return changed


def ensure_unique(session: Session, model: Any, values: dict[str, Any], own_id: Id | None) -> None:
    """409 with the existing id when a value of a unique column is already taken."""
    for column in model.__table__.columns:
        if not column.unique or column.name not in values or values[column.name] is None:
            continue
        existing = session.scalar(
            select(model.id).where(column == values[column.name]).where(model.id != (own_id or -1))
        )
        if existing is not None:
            name = model.__tablename__.rstrip("s")
            raise DuplicateIdentifier(
                f"{column.name} '{values[column.name]}' already belongs to {name} {existing}",
                field=column.name,
                existing_id=existing,
            )


def contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match; % and _ in `text` are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
