"""Thread: a debate; its items are the sources ingested into it."""

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped, utcnow
from app.models.common import (
    CreateModel,
    Id,
    ORMModel,
    ShortText,
    Slug,
    Timestamps,
    UpdateModel,
    UTCDateTime,
)


class Thread(Timestamped, Base):
    __node_type__ = "thread"
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    found_via: Mapped[str | None] = mapped_column(
        String(200), doc="Default discovery tag for items added to the thread."
    )

    items: Mapped[list["ThreadItem"]] = relationship(order_by="ThreadItem.added_at", viewonly=True)


class ThreadItem(Base):
    """A source in a thread, with how it was found and its citation number there."""

    __tablename__ = "thread_items"
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True, index=True)
    found_via: Mapped[str | None] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


THREAD_EXAMPLE: dict[str, Any] = {
    "slug": "deep-learning-theory-broken",
    "title": "Deep Learning Theory Is Broken — And Maybe Unfixable",
    "summary": "Whether classical generalization theory failed for deep networks.",
    "found_via": "reactive:deep-learning-theory-limits",
}


class ThreadCreate(CreateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [THREAD_EXAMPLE]})
    slug: Slug | None = None
    title: ShortText
    summary: str | None = None
    found_via: str | None = Field(None, max_length=200)


class ThreadUpdate(UpdateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"summary": "New summary."}]})
    slug: Slug | None = None
    title: ShortText | None = None
    summary: str | None = None
    found_via: str | None = Field(None, max_length=200)


class ThreadPublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"id": 1, **THREAD_EXAMPLE}]}
    )
    slug: str
    title: str
    summary: str | None
    found_via: str | None


class ThreadItemCreate(CreateModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"source_id": 12, "found_via": "manual"}]}
    )
    source_id: Id
    found_via: str | None = Field(None, max_length=200, description="Default: the thread's tag.")
    citation_number: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Give the source this citation number in the thread (it must be free); "
        "default: its work's number, or the next one.",
    )


class ThreadItemPublic(ORMModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "thread_id": 1,
                    "source_id": 16,
                    "found_via": "reactive:deep-learning-theory-limits",
                    "citation_number": 16,
                    "added_at": "2026-04-30T21:09:00Z",
                }
            ]
        },
    )
    thread_id: Id
    source_id: Id
    found_via: str | None
    citation_number: int | None = Field(None, description="The source's number in the thread.")
    added_at: UTCDateTime
