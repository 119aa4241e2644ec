"""Threads and their items (sources ingested into a thread)."""

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, NotFound
from app.models import Source, Thread, ThreadItem
from app.models.common import Id
from app.models.thread import ThreadCreate, ThreadItemCreate, ThreadPublic, ThreadUpdate
from app.services.crud import Resource
from app.services.refs import assign, contains, require_id, unique_slug


class ThreadFilters(BaseModel):
    q: str | None = Field(None, max_length=200, description="Substring of the title.")


def _filters(stmt: Select, f: ThreadFilters) -> Select:
    if f.q:
        stmt = stmt.where(contains(Thread.title, f.q))
    return stmt


def create_thread(session: Session, data: ThreadCreate) -> Thread:
    thread = Thread(
        slug=unique_slug(session, Thread, data.slug, data.title),
        **data.model_dump(exclude={"slug"}),
    )
    session.add(thread)
    session.flush()
    return thread


def update_thread(session: Session, thread: Thread, data: ThreadUpdate) -> Thread:
    assign(thread, data)
    return thread


def add_item(session: Session, thread: Thread, data: ThreadItemCreate) -> ThreadItem:
    require_id(session, Source, data.source_id, "source_id")
    if session.get(ThreadItem, (thread.id, data.source_id)) is not None:
        raise Conflict(
            f"source {data.source_id} is already an item of thread {thread.id}", field="source_id"
        )
    number = data.citation_number
    if number is None:
        number = (
            session.scalar(
                select(func.max(ThreadItem.citation_number)).where(
                    ThreadItem.thread_id == thread.id
                )
            )
            or 0
        ) + 1
    elif (
        session.scalar(
            select(ThreadItem.source_id).where(
                ThreadItem.thread_id == thread.id, ThreadItem.citation_number == number
            )
        )
        is not None
    ):
        raise Conflict(
            f"citation number {number} is taken in thread {thread.id}", field="citation_number"
        )
    item = ThreadItem(
        thread_id=thread.id,
        source_id=data.source_id,
        found_via=data.found_via or thread.found_via,
        citation_number=number,
    )
    session.add(item)
    session.flush()
    return item


def remove_item(session: Session, thread: Thread, source_id: Id) -> None:
    item = session.get(ThreadItem, (thread.id, source_id))
    if item is None:
        raise NotFound(
            f"source {source_id} is not an item of thread {thread.id}", field="source_id"
        )
    session.delete(item)
    session.flush()


RESOURCE = Resource(
    name="thread",
    plural="threads",
    model=Thread,
    public=ThreadPublic,
    create_schema=ThreadCreate,
    update_schema=ThreadUpdate,
    create=create_thread,
    update=update_thread,
    filters_schema=ThreadFilters,
    apply_filters=_filters,
    sortable={"title": Thread.title, "created_at": Thread.created_at},
)
