"""/threads: CRUD plus the thread's items."""

from typing import Annotated, Any

from fastapi import Body, Path, status
from sqlalchemy import func, select

from app.api.crud import crud_router, write
from app.api.deps import Limit, Offset, SessionDep
from app.models import ThreadItem
from app.models.common import MAX_ID, Page
from app.models.thread import ThreadItemCreate, ThreadItemPublic
from app.services.citations import number_of_sources
from app.services.crud import get_row, page
from app.services.threads import RESOURCE, add_item, remove_item

router = crud_router(RESOURCE, tag="threads")
ThreadRef = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]


@router.get(
    "/{ref}/items",
    response_model=Page[ThreadItemPublic],
    summary="List a thread's items",
    description="Sources ingested into the thread, by citation number, with how each was found.",
)
def list_items(session: SessionDep, ref: ThreadRef, limit: Limit = 50, offset: Offset = 0) -> Any:
    thread = get_row(session, RESOURCE, ref)
    where = ThreadItem.thread_id == thread.id
    total = session.scalar(select(func.count()).select_from(ThreadItem).where(where)) or 0
    rows = session.scalars(select(ThreadItem).where(where)).all()
    numbers = number_of_sources(session, thread.id, [r.source_id for r in rows])
    public = sorted(
        (
            ThreadItemPublic.model_validate(r).model_copy(
                update={"citation_number": numbers[r.source_id]}
            )
            for r in rows
        ),
        key=lambda i: (i.citation_number is None, i.citation_number or 0, i.source_id),
    )
    return page(public[offset : offset + limit], total, limit, offset)


@router.post(
    "/{ref}/items",
    response_model=ThreadItemPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Add a source to a thread",
)
def post_item(
    session: SessionDep, ref: ThreadRef, body: Annotated[ThreadItemCreate, Body()]
) -> Any:
    def change() -> ThreadItemPublic:
        thread = get_row(session, RESOURCE, ref)
        item = add_item(session, thread, body)
        number = number_of_sources(session, thread.id, [item.source_id])[item.source_id]
        return ThreadItemPublic.model_validate(item).model_copy(update={"citation_number": number})

    return write(session, change)


@router.delete(
    "/{ref}/items/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a source from a thread",
)
def delete_item(
    session: SessionDep,
    ref: ThreadRef,
    source_id: Annotated[int, Path(ge=1, le=MAX_ID, description="Source id", examples=[12])],
) -> None:
    write(session, lambda: remove_item(session, get_row(session, RESOURCE, ref), source_id))
