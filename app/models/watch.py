"""Watch (a saved query polled on a schedule), InboxItem (what it brought, awaiting triage),
InboxKey (identifiers a thread's inbox has seen: never offered twice) and Embedding (one
stored vector per model and text)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped, utcnow
from app.models.common import db_enum


class WatchProvider(StrEnum):
    arxiv = "arxiv"  # query: an arXiv API search_query (e.g. all:"double descent")
    semanticscholar_search = "semanticscholar_search"  # query: search words
    semanticscholar_citations = "semanticscholar_citations"  # query: the cited paper's id
    semanticscholar_references = "semanticscholar_references"  # query: the citing paper's id
    openalex = "openalex"  # query: an OpenAlex works filter (e.g. title.search:grokking)
    feed = "feed"  # query: the URL of an RSS or Atom feed


class InboxStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"
    merged = "merged"


class Watch(Timestamped, Base):
    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[WatchProvider] = mapped_column(db_enum(WatchProvider, "watch_provider"))
    query: Mapped[str] = mapped_column(String(2000))
    every_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the provider has shown already: newest date seen, feed validators (ETag, ...).
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_poll_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while a poll runs (by whichever process claimed it); a crashed poll's lease expires.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    items_found: Mapped[int] = mapped_column(Integer, default=0)


class InboxItem(Timestamped, Base):
    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    # Links that let go (SET NULL): deleting a watch, a source or a work keeps the decisions.
    watch_id: Mapped[int | None] = mapped_column(
        ForeignKey("watches.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[InboxStatus] = mapped_column(
        db_enum(InboxStatus, "inbox_status"), default=InboxStatus.pending, index=True
    )
    external_id: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(1000))
    # The source as the provider describes it (the fields of POST /sources).
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Checked on arrival: the same identifier on a known source, or a copy of a known work.
    known_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL")
    )
    known_work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="SET NULL"))
    match_rule: Mapped[str | None] = mapped_column(String(40))
    # The decision: the source it became (accepted) or joined (merged).
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class InboxKey(Base):
    """An identifier (doi:…, arxiv:…, url:…, or the provider's own id) that a thread's inbox
    has received: a later poll, by any watch of the thread, skips items carrying it."""

    __tablename__ = "inbox_keys"
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("inbox_items.id", ondelete="CASCADE"), index=True
    )


class Embedding(Base):
    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("model", "text_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    text_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the embedded text
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
