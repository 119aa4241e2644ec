"""What changed in a thread since a date, before any version is published."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Claim,
    Evidence,
    Source,
    SourceRevision,
    Tension,
    TensionStatusChange,
    Thread,
    ThreadItem,
    TimelineEvent,
)
from app.models.common import format_partial_date
from app.services import inbox


def changes_since(session: Session, thread: Thread, since: datetime) -> dict[str, Any]:
    items = session.execute(
        select(ThreadItem, Source)
        .join(Source, Source.id == ThreadItem.source_id)
        .where(ThreadItem.thread_id == thread.id, ThreadItem.added_at >= since)
        .order_by(ThreadItem.added_at)
    ).all()
    thread_sources = select(ThreadItem.source_id).where(ThreadItem.thread_id == thread.id)
    events = session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.thread_id == thread.id, TimelineEvent.created_at >= since
        )
    ).all()
    evidence = session.scalars(
        select(Evidence).where(Evidence.created_at >= since, Evidence.source_id.in_(thread_sources))
    ).all()
    claims = session.scalars(
        select(Claim).where(Claim.created_at >= since, Claim.id.in_([e.claim_id for e in evidence]))
    ).all()
    statuses = session.execute(
        select(Tension, TensionStatusChange)
        .join(TensionStatusChange, TensionStatusChange.tension_id == Tension.id)
        .where(Tension.thread_id == thread.id, TensionStatusChange.changed_at >= since)
        .order_by(TensionStatusChange.changed_at)
    ).all()
    corrections = session.scalars(
        select(SourceRevision).where(
            SourceRevision.changed_at >= since, SourceRevision.source_id.in_(thread_sources)
        )
    ).all()
    triaged = inbox.accepted_since(session, thread.id, since)
    return {
        "thread_id": thread.id,
        "since": since.isoformat(),
        "sources_added": [
            {
                "source_id": s.id,
                "title": s.title,
                "found_via": i.found_via,
                "added_at": i.added_at.isoformat(),
            }
            for i, s in items
        ],
        "inbox_accepted": [
            {
                "item_id": i.id,
                "title": i.title,
                "status": i.status.value,
                "source_id": i.source_id,
                "watch_id": i.watch_id,
                "decided_at": i.decided_at.isoformat() if i.decided_at else None,
            }
            for i in triaged
        ],
        "timeline_added": [
            {"id": e.id, "date": format_partial_date(e.date, e.date_precision), "text": e.text}
            for e in events
        ],
        "claims_added": [{"id": c.id, "text": c.text, "status": c.status.value} for c in claims],
        "evidence_added": [
            {
                "id": e.id,
                "claim_id": e.claim_id,
                "source_id": e.source_id,
                "relation": e.relation.value,
            }
            for e in evidence
        ],
        "tension_status_changes": [
            {
                "tension_id": t.id,
                "title": t.title,
                "from": c.from_status.value if c.from_status else None,
                "to": c.to_status.value,
                "reason": c.reason,
                "changed_at": c.changed_at.isoformat(),
            }
            for t, c in statuses
        ],
        "source_corrections": [
            {
                "source_id": r.source_id,
                "field": r.field,
                "old": r.old_value,
                "new": r.new_value,
                "reason": r.reason,
            }
            for r in corrections
        ],
    }
