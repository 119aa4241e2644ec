"""Timeline events of a thread."""

from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import Session, selectinload

from app.models import Source, Thread, TimelineEvent
from app.models.common import MAX_YEAR, MIN_YEAR, DatePrecision, Id, parse_partial_date
from app.models.links import event_sources
from app.models.timeline import EventCreate, EventPublic, EventUpdate
from app.services.crud import Resource
from app.services.refs import assign, require_id, require_ids, set_links, unique_slug


class EventFilters(BaseModel):
    thread_id: Id | None = None
    precision: DatePrecision | None = None
    year_from: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    year_to: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)


def _filters(stmt: Select, f: EventFilters) -> Select:
    if f.thread_id is not None:
        stmt = stmt.where(TimelineEvent.thread_id == f.thread_id)
    if f.precision:
        stmt = stmt.where(TimelineEvent.date_precision == f.precision)
    if f.year_from is not None:
        stmt = stmt.where(TimelineEvent.date >= date(f.year_from, 1, 1))
    if f.year_to is not None:
        stmt = stmt.where(TimelineEvent.date <= date(f.year_to, 12, 31))
    return stmt


def create_event(session: Session, data: EventCreate) -> TimelineEvent:
    require_id(session, Thread, data.thread_id, "thread_id")
    require_ids(session, Source, data.source_ids, "source_ids")
    value, precision = parse_partial_date(data.date)
    event = TimelineEvent(
        slug=unique_slug(
            session, TimelineEvent, data.slug, f"{value.isoformat()}-{data.text[:40]}"
        ),
        thread_id=data.thread_id,
        date=value,
        date_precision=precision,
        text=data.text,
    )
    session.add(event)
    session.flush()
    set_links(session, event_sources, "event_id", event.id, "source_id", data.source_ids)
    return event


def update_event(session: Session, event: TimelineEvent, data: EventUpdate) -> TimelineEvent:
    if "thread_id" in data.model_fields_set:
        require_id(session, Thread, data.thread_id, "thread_id")
    if data.source_ids is not None:
        require_ids(session, Source, data.source_ids, "source_ids")
        set_links(session, event_sources, "event_id", event.id, "source_id", data.source_ids)
        session.expire(event, ["sources"])
    if "date" in data.model_fields_set:
        if data.date is None:
            from app.core.errors import InvalidInput

            raise InvalidInput("date: may not be null", field="date")
        event.date, event.date_precision = parse_partial_date(data.date)
    assign(event, data, exclude={"date", "source_ids"})
    return event


RESOURCE = Resource(
    name="event",
    plural="events",
    model=TimelineEvent,
    public=EventPublic,
    create_schema=EventCreate,
    update_schema=EventUpdate,
    create=create_event,
    update=update_event,
    filters_schema=EventFilters,
    apply_filters=_filters,
    sortable={
        "date": TimelineEvent.date,
        "position": TimelineEvent.position,
        "created_at": TimelineEvent.created_at,
    },
    default_sort="date,position",
    load_options=[selectinload(TimelineEvent.sources)],
)
