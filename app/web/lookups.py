"""Small batched reads the pages need to show names next to ids."""

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")


def by_id(session: Session, model: type[T], ids: Iterable[int]) -> dict[int, T]:
    """Rows of `model` with these ids, keyed by id (missing ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(model).where(model.id.in_(wanted)))  # type: ignore[attr-defined]
    return {row.id: row for row in rows}  # type: ignore[attr-defined]


def in_order(found: dict[int, T], ids: Iterable[int]) -> list[T]:
    """The rows for `ids`, in that order, skipping the missing ones."""
    return [found[i] for i in ids if i in found]


def newest(session: Session, model: Any, n: int, *where: Any) -> list[Any]:
    stmt = select(model).where(*where).order_by(model.created_at.desc(), model.id.desc())
    return list(session.scalars(stmt.limit(n)))
