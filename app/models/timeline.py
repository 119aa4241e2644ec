"""TimelineEvent: a dated event in a thread, with the date's precision."""

from datetime import date as Date
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped
from app.models.common import (
    CreateModel,
    DatePrecision,
    Id,
    NonEmptyText,
    PartialDate,
    PartialDateIn,
    Slug,
    Timestamps,
    UpdateModel,
    db_enum,
    format_partial_date,
)
from app.models.links import event_sources


class TimelineEvent(Timestamped, Base):
    __node_type__ = "event"
    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), index=True)
    date: Mapped[Date] = mapped_column(index=True)
    date_precision: Mapped[DatePrecision] = mapped_column(db_enum(DatePrecision, "date_precision"))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)

    sources = relationship(
        "Source", secondary=event_sources, order_by=event_sources.c.position, viewonly=True
    )

    @property
    def source_ids(self) -> list[int]:
        return [s.id for s in self.sources]

    @property
    def date_display(self) -> str:
        return format_partial_date(self.date, self.date_precision) or ""


EVENT_EXAMPLE: dict[str, Any] = {
    "slug": "feldman-long-tail",
    "thread_id": 1,
    "date": "2019-06",
    "text": "Feldman argues that learning long-tailed data requires memorization.",
    "source_ids": [44, 71],
}


class EventCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})
    slug: Slug | None = None
    thread_id: Id | None = None
    date: PartialDate = Field(..., description="2019, '2019-06' or '2019-06-01'.")
    text: NonEmptyText
    source_ids: list[Id] = Field(default_factory=list)


class EventUpdate(UpdateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"date": "2019-06-14"}]})
    slug: Slug | None = None
    thread_id: Id | None = None
    date: PartialDateIn = None
    text: NonEmptyText | None = None
    source_ids: list[Id] | None = None


class EventPublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"id": 3, "date_precision": "month", **EVENT_EXAMPLE}]},
    )
    slug: str
    thread_id: Id | None
    date: str = Field(..., validation_alias="date_display")
    date_precision: DatePrecision
    text: str
    source_ids: list[Id]
