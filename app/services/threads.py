"""Threads and their items (sources ingested into a thread)."""

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, NotFound
from app.models import Source, Thread, ThreadItem, ThreadVersion
from app.models.common import Id
from app.models.thread import ThreadCreate, ThreadItemCreate, ThreadPublic, ThreadUpdate
from app.services.citations import Numbers
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
    source = session.get(Source, data.source_id)
    assert source is not None
    numbers = Numbers(session, thread.id)
    if data.citation_number is not None:
        numbers.reserve(data.citation_number, source.work_id, source.id)
    else:
        numbers.ensure([(source.work_id, source.id)])
    item = ThreadItem(
        thread_id=thread.id, source_id=data.source_id, found_via=data.found_via or thread.found_via
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


def refuse_if_published(session: Session, thread: Thread) -> None:
    """Published versions are immutable, so a thread that has some cannot be deleted."""
    count = (
        session.scalar(
            select(func.count())
            .select_from(ThreadVersion)
            .where(ThreadVersion.thread_id == thread.id)
        )
        or 0
    )
    if count:
        raise Conflict(
            f"thread {thread.id} has {count} published version(s), which are "
            "immutable; it cannot be deleted",
            field="id",
        )


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
    before_delete=refuse_if_published,
)
