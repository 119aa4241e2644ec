"""Narrative versions of a thread, and the citation numbers its works keep across versions."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class ThreadCitation(Base):
    """Number `number` of a thread names a work. Numbers are appended, never reused; when a
    work got several numbers (its copies were once listed apart), the lowest is its number
    and the others stay aliases that resolve to it."""

    __tablename__ = "thread_citations"
    __table_args__ = (UniqueConstraint("thread_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    work_id: Mapped[int | None] = mapped_column(
        ForeignKey("works.id", ondelete="SET NULL"), index=True
    )
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))


class ThreadVersion(Base):
    """An immutable snapshot: the document is stored as canonical JSON text, so a render
    years later reads the same bytes."""

    __tablename__ = "thread_versions"
    __table_args__ = (UniqueConstraint("thread_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    item_count: Mapped[int] = mapped_column(Integer)
    generated: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    document: Mapped[str] = mapped_column(Text)
    built_from: Mapped[dict[str, Any]] = mapped_column(JSON)
