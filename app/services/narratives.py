"""Publishing a version of a thread: a frozen, content-addressed snapshot of its narrative,
timeline, perspectives, tensions and numbered sources (one entry per work)."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import InvalidInput, NotFound
from app.models import (
    Claim,
    Edge,
    Evidence,
    Perspective,
    PerspectiveEvolution,
    Problem,
    Source,
    Tension,
    TensionSide,
    TensionStatusChange,
    Thread,
    ThreadItem,
    ThreadVersion,
    TimelineEvent,
)
from app.models.common import format_partial_date
from app.models.edge import NodeType
from app.services import inbox, renders
from app.services.citations import Numbers

CITATION = re.compile(r"\[([0-9]+)\]")
PRECISION_ORDER = {"year": 0, "month": 1, "day": 2}


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def latest(session: Session, thread_id: int) -> ThreadVersion | None:
    return session.scalars(
        select(ThreadVersion)
        .where(ThreadVersion.thread_id == thread_id)
        .order_by(ThreadVersion.number.desc())
        .limit(1)
    ).first()


def get_version(session: Session, thread: Thread, number: int) -> ThreadVersion:
    version = session.scalars(
        select(ThreadVersion).where(
            ThreadVersion.thread_id == thread.id, ThreadVersion.number == number
        )
    ).first()
    if version is None:
        raise NotFound(f"thread {thread.id} has no version {number}", field="path.number")
    return version


def compare(session: Session, thread: Thread, a: int, b: int, field: str) -> dict[str, Any]:
    """What changed from version a to the later version b (`field` names b in the error)."""
    if a >= b:
        name = field.rsplit(".", 1)[-1]
        raise InvalidInput(f"{name}: compare an earlier version with a later one", field=field)
    return renders.diff(get_version(session, thread, a), get_version(session, thread, b))


def _thread_sources(session: Session, thread: Thread) -> list[Source]:
    """The thread's items, plus every source its timeline, perspectives and tensions cite."""
    ids: set[int] = set(
        session.scalars(select(ThreadItem.source_id).where(ThreadItem.thread_id == thread.id))
    )
    for event in session.scalars(select(TimelineEvent).where(TimelineEvent.thread_id == thread.id)):
        ids.update(event.source_ids)
    for p in session.scalars(select(Perspective).where(Perspective.thread_id == thread.id)):
        ids.update(p.source_ids)
    for t in session.scalars(select(Tension).where(Tension.thread_id == thread.id)):
        ids.update(t.source_ids)
        for side in t.sides:
            ids.update(side.source_ids)
    return list(session.scalars(select(Source).where(Source.id.in_(ids)).order_by(Source.id)))


def _source_entry(numbers: Numbers, work_id: int, copies: list[Source]) -> dict[str, Any]:
    first = copies[0]
    return {
        "number": numbers.number(work_id),
        "aliases": numbers.aliases(work_id),
        "work_id": work_id,
        "title": first.title,
        "date": first.date_display,
        "venue": first.venue,
        "host": first.host,
        "copies": [
            {
                "source_id": c.id,
                "title": c.raw_title or c.title,
                "host": c.host,
                "url": c.url,
                "date": c.date_display,
            }
            for c in copies
        ],
    }


def build(
    session: Session,
    thread: Thread,
    number: int,
    narrative: str,
    generated: bool,
    published_at: datetime,
    item_count: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document of version `number` and the ids it was built from."""
    sources = _thread_sources(session, thread)
    by_work: dict[int, list[Source]] = {}
    for s in sources:
        by_work.setdefault(s.work_id, []).append(s)
    numbers = Numbers(session, thread.id)
    numbers.ensure([(w, copies[0].id) for w, copies in by_work.items()])
    work_of_source = {s.id: s.work_id for s in sources}

    def cite(source_ids: list[int]) -> list[int]:
        seen: list[int] = []
        for sid in source_ids:
            n = numbers.number(work_of_source[sid]) if sid in work_of_source else None
            if n is not None and n not in seen:
                seen.append(n)
        return seen

    events = sorted(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.thread_id == thread.id)
            .options(selectinload(TimelineEvent.sources))
        ),
        key=lambda e: (e.date, PRECISION_ORDER[e.date_precision.value], e.position, e.id),
    )
    perspectives = session.scalars(
        select(Perspective)
        .where(Perspective.thread_id == thread.id)
        .order_by(Perspective.position, Perspective.id)
        .options(selectinload(Perspective.evolution), selectinload(Perspective.sources))
    ).all()
    tensions = session.scalars(
        select(Tension)
        .where(Tension.thread_id == thread.id)
        .order_by(Tension.position, Tension.id)
        .options(
            selectinload(Tension.sides).selectinload(TensionSide.claims),
            selectinload(Tension.sources),
        )
    ).all()
    # The thread's claims: on a tension side, held by a perspective, or with evidence from
    # one of the thread's sources.
    source_ids = [s.id for s in sources]
    claim_ids = sorted(
        {c.id for t in tensions for side in t.sides for c in side.claims}
        | {c.id for p in perspectives for c in p.claims}
        | set(session.scalars(select(Evidence.claim_id).where(Evidence.source_id.in_(source_ids))))
    )
    claims = session.scalars(select(Claim).where(Claim.id.in_(claim_ids)).order_by(Claim.id)).all()
    # The evidence the thread itself brings: from its sources, or from endorsed experiment
    # runs. Evidence from sources outside the thread cannot be cited in it, and would tie
    # the document's size to the whole database (a popular claim has thousands of rows).
    evidence = session.scalars(
        select(Evidence)
        .where(
            Evidence.claim_id.in_(claim_ids),
            or_(Evidence.source_id.in_(source_ids), Evidence.run_id.is_not(None)),
        )
        .order_by(Evidence.id)
    ).all()

    def evolution(p: Perspective) -> dict[str, Any] | None:
        entry = next((e for e in p.evolution if e.version == number), None)
        return {"kind": entry.kind.value, "note": entry.note} if entry else None

    document = {
        "thread": {"id": thread.id, "slug": thread.slug, "title": thread.title},
        "version": number,
        "published_at": published_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "item_count": item_count,
        "narrative": {"text": narrative, "generated": generated},
        "timeline": [
            {
                "id": e.id,
                "date": format_partial_date(e.date, e.date_precision),
                "precision": e.date_precision.value,
                "text": e.text,
                "citations": cite(e.source_ids),
            }
            for e in events
        ],
        "perspectives": [
            {
                "id": p.id,
                "label": p.label,
                "stance": p.stance,
                "evolution": evolution(p),
                "evolution_history": [
                    {"version": e.version, "kind": e.kind.value, "note": e.note}
                    for e in p.evolution
                    if e.version <= number
                ],
                "citations": cite(p.source_ids),
            }
            for p in perspectives
        ],
        "tensions": [
            {
                "id": t.id,
                "title": t.title,
                "question": t.question,
                "status": t.status.value,
                "citations": cite(t.source_ids),
            }
            for t in tensions
        ],
        "claims": [{"id": c.id, "text": c.text, "status": c.status.value} for c in claims],
        "evidence": [
            {
                "id": e.id,
                "claim_id": e.claim_id,
                "relation": e.relation.value,
                "citation": cite([e.source_id])[0] if e.source_id and cite([e.source_id]) else None,
            }
            for e in evidence
        ],
        "sources": sorted(
            (_source_entry(numbers, w, copies) for w, copies in by_work.items()),
            key=lambda s: s["number"],
        ),
    }
    source_entries: list[dict[str, Any]] = document["sources"]  # type: ignore[assignment]
    known = {n for s in source_entries for n in [s["number"], *s["aliases"]]}
    # "[01]" or a 12-digit number never names a source: compare the digits as written.
    written = {str(k) for k in known}
    unresolved = sorted(
        {n for n in CITATION.findall(narrative) if n not in written}, key=lambda n: (len(n), n)
    )
    if unresolved:
        raise InvalidInput(
            f"narrative: {', '.join(f'[{n}]' for n in unresolved)} name no source of this version",
            field="narrative",
            details={"unresolved": [int(n) if n == str(int(n)) else n for n in unresolved]},
        )
    built_from = {
        "sources": [s.id for s in sources],
        "events": [e.id for e in events],
        "perspectives": [p.id for p in perspectives],
        "tensions": [t.id for t in tensions],
        "claims": claim_ids,
        "evidence": [e.id for e in evidence],
    }
    return document, built_from


def _check_narrative(narrative: str | None) -> None:
    if narrative is not None and not narrative.strip():
        raise InvalidInput(
            "narrative: empty; leave it out to get a generated change digest", field="narrative"
        )


def _check_time(previous: ThreadVersion | None, when: datetime) -> None:
    if previous is not None and when < _utc(previous.published_at):
        raise InvalidInput(
            f"published_at: before version {previous.number} ({_utc(previous.published_at)})",
            field="published_at",
        )
    if when > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidInput("published_at: may not lie in the future", field="published_at")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def publish(
    session: Session,
    thread: Thread,
    narrative: str | None,
    published_at: datetime | None = None,
    number: int | None = None,
    item_count: int | None = None,
) -> ThreadVersion:
    # One publisher per thread at a time (a row lock on PostgreSQL; SQLite writes are serial).
    session.execute(select(Thread.id).where(Thread.id == thread.id).with_for_update())
    _check_narrative(narrative)
    previous = latest(session, thread.id)
    number = number or (previous.number + 1 if previous else 1)
    when = published_at or datetime.now(UTC)
    _check_time(previous, when)
    count = (
        item_count
        if item_count is not None
        else session.scalar(
            select(func.count()).select_from(ThreadItem).where(ThreadItem.thread_id == thread.id)
        )
        or 0
    )
    generated = narrative is None
    if narrative is None:
        narrative = draft_digest(session, thread, previous)
    document, built_from = build(session, thread, number, narrative, generated, when, count)
    text = canonical(document)
    version = ThreadVersion(
        thread_id=thread.id,
        number=number,
        published_at=when,
        item_count=count,
        generated=generated,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        document=text,
        built_from=built_from,
    )
    session.add(version)
    session.flush()
    return version


def _topics(session: Session, thread: Thread, source_ids: list[int]) -> dict[int, list[str]]:
    """source id -> the problems it addresses and the thread's tensions that cite it."""
    topics: dict[int, list[str]] = {sid: [] for sid in source_ids}
    rows = session.execute(
        select(Edge.from_id, Problem.title)
        .join(Problem, Problem.id == Edge.to_id)
        .where(
            Edge.from_type == NodeType.source,
            Edge.from_id.in_(source_ids),
            Edge.to_type == NodeType.problem,
        )
    ).all()
    for sid, title in rows:
        topics[sid].append(f"Problem: {title}")
    for t in session.scalars(select(Tension).where(Tension.thread_id == thread.id)):
        cited = set(t.source_ids) | {i for side in t.sides for i in side.source_ids}
        for sid in cited & set(source_ids):
            topics[sid].append(f"Tension: {t.title}")
    return topics


def _numbers_for(session: Session, numbers: Numbers, source_ids: list[int]) -> list[int]:
    works = session.scalars(select(Source.work_id).where(Source.id.in_(source_ids))).all()
    return sorted({n for w in works if (n := numbers.number(w)) is not None})


def _found_via(items: list[ThreadItem], source_id: int) -> str:
    return next((i.found_via or "inbox" for i in items if i.source_id == source_id), "inbox")


def draft_digest(session: Session, thread: Thread, previous: ThreadVersion | None) -> str:
    """A factual change digest since the previous version, with citations, marked generated:
    new works grouped by the problems and tensions they bear on, tension status changes,
    new timeline events and the perspectives' evolution entries for the new version."""
    since = previous.published_at if previous else datetime(1970, 1, 1, tzinfo=UTC)
    number = previous.number + 1 if previous else 1
    # "New" means not in the previous snapshot (its recorded ids), whatever the timestamps.
    # Ids the previous snapshot was built from, as sets (looked up once per row below).
    seen: dict[str, set[int]] = {
        k: set(v) for k, v in (previous.built_from if previous else {}).items()
    }
    items = [
        i
        for i in session.scalars(select(ThreadItem).where(ThreadItem.thread_id == thread.id))
        if i.source_id not in seen.get("sources", set())
    ]
    numbers = Numbers(session, thread.id)
    new_sources = session.scalars(
        select(Source).where(Source.id.in_([i.source_id for i in items])).order_by(Source.id)
    ).all()
    by_work = {s.work_id: s for s in new_sources}
    numbers.ensure([(w, s.id) for w, s in by_work.items()])
    lines = [
        "*Generated change digest: what changed since the last version, not an interpretation.*"
    ]
    if by_work:
        topics = _topics(session, thread, [s.id for s in by_work.values()])
        # Items a curator accepted from the inbox since the previous version, by source.
        triaged = {i.source_id for i in inbox.accepted_since(session, thread.id, since)}
        groups: dict[str, list[str]] = {}
        for w, s in by_work.items():
            via = ""
            if s.id in triaged:
                via = f" (from the inbox, {_found_via(items, s.id)})"
            for topic in topics[s.id] or ["Not yet tied to a problem or tension"]:
                groups.setdefault(topic, []).append(f"- {s.title} [{numbers.number(w)}]{via}")
        from_inbox = sum(1 for s in by_work.values() if s.id in triaged)
        lines.append(
            f"New in the thread: {len(by_work)} work(s)"
            + (f", {from_inbox} of them accepted from the inbox." if from_inbox else ".")
        )
        for topic in sorted(groups):
            lines += [f"{topic}:", *groups[topic]]
    changes = session.execute(
        select(
            Tension.title,
            TensionStatusChange.from_status,
            TensionStatusChange.to_status,
            TensionStatusChange.reason,
        )
        .join(Tension, Tension.id == TensionStatusChange.tension_id)
        .where(
            Tension.thread_id == thread.id,
            TensionStatusChange.changed_at > since,
            TensionStatusChange.from_status.is_not(None),
        )
        .order_by(TensionStatusChange.changed_at)
    ).all()
    if changes:
        lines.append("Tension status changes:")
        lines += [
            f'- "{title}": {old.value if old else "new"} → {new.value} ({reason})'
            for title, old, new, reason in changes
        ]
    events = [
        e
        for e in session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.thread_id == thread.id)
            .order_by(TimelineEvent.date)
        )
        if e.id not in seen.get("events", set())
    ]
    if events:
        lines.append("New timeline events:")
        for e in events:
            cites = "".join(f"[{n}]" for n in _numbers_for(session, numbers, e.source_ids))
            lines.append(
                f"- {format_partial_date(e.date, e.date_precision)}: {e.text} {cites}".rstrip()
            )
    thread_sources = select(ThreadItem.source_id).where(ThreadItem.thread_id == thread.id)
    rows = session.execute(
        select(Evidence, Claim.text)
        .join(Claim, Claim.id == Evidence.claim_id)
        .where(Evidence.source_id.in_(thread_sources))
        .order_by(Evidence.id)
    ).all()
    new_evidence = [(ev, text) for ev, text in rows if ev.id not in seen.get("evidence", set())]
    if new_evidence:
        lines.append("New evidence:")
        for ev, text in new_evidence:
            sources = [ev.source_id] if ev.source_id else []
            cites = "".join(f"[{n}]" for n in _numbers_for(session, numbers, sources))
            lines.append(f"- {ev.relation.value}: {text} {cites}".rstrip())
    evolutions = session.execute(
        select(Perspective.label, PerspectiveEvolution.kind, PerspectiveEvolution.note)
        .join(PerspectiveEvolution, PerspectiveEvolution.perspective_id == Perspective.id)
        .where(Perspective.thread_id == thread.id, PerspectiveEvolution.version == number)
    ).all()
    if evolutions:
        lines.append("Perspectives:")
        lines += [
            f"- {label}: {kind.value}" + (f" ({note})" if note else "")
            for label, kind, note in evolutions
        ]
    if len(lines) == 1:
        lines.append(
            "No new works, status changes, events or perspective entries since the last version."
            if previous
            else "First version of the thread."
        )
    return "\n".join(lines)
