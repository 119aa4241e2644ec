"""A thread's inbox: what its watches brought, checked against the sources and works already
known, waiting for a curator to accept, reject or merge it.

Every identifier an item carries (DOI, arXiv id, URL, the provider's own id) is kept as an
InboxKey of the thread, whatever becomes of the item: a later poll, by any watch of the
thread, never offers it again, and a rejection is remembered that way.
"""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clients.watching import ID_SPACES, Found
from app.core.errors import Conflict, InvalidInput, NotFound
from app.models import InboxItem, InboxKey, Source, Thread, ThreadItem, Watch
from app.models.base import utcnow
from app.models.source import SourceCreate
from app.models.watch import InboxStatus, WatchProvider
from app.services.citations import Numbers
from app.services.crud import page
from app.services.intake import Intake, ingest
from app.services.sources import source_columns

BulkAction = Literal["accept", "reject"]
MAX_BULK = 500
KEY_LENGTH = 600  # inbox_keys.key


def _validated(data: dict[str, Any]) -> SourceCreate | None:
    try:
        return SourceCreate.model_validate(data)
    except ValidationError:
        return None


def keys_of(provider: WatchProvider, found: Found) -> list[str]:
    """The identifiers under which the thread remembers an item."""
    keys = [f"{ID_SPACES[provider]}:{found.external_id}"]
    data = _validated(found.data)
    if data is not None:
        columns = source_columns(data)
        keys += [
            f"{name}:{columns[name]}" for name in ("doi", "arxiv_id", "url") if columns.get(name)
        ]
    return [k[:KEY_LENGTH] for k in keys]


def seen_keys(session: Session, thread_id: int) -> set[str]:
    return set(session.scalars(select(InboxKey.key).where(InboxKey.thread_id == thread_id)))


def _in_thread(session: Session, thread_id: int, source_id: int) -> bool:
    """The source, or another copy of its work, is already an item of the thread."""
    work = select(Source.work_id).where(Source.id == source_id).scalar_subquery()
    return (
        session.scalar(
            select(func.count())
            .select_from(ThreadItem)
            .join(Source, Source.id == ThreadItem.source_id)
            .where(ThreadItem.thread_id == thread_id, Source.work_id == work)
        )
        or 0
    ) > 0


@dataclass
class Received:
    added: list[int]
    already_seen: int = 0
    already_in_thread: int = 0
    invalid: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "item_ids": self.added,
            "already_seen": self.already_seen,
            "already_in_thread": self.already_in_thread,
            "invalid": self.invalid,
        }


def receive(session: Session, watch: Watch, found: list[Found]) -> Received:
    """File the new ones among `found` in the watch's thread inbox (flushes, no commit)."""
    seen = seen_keys(session, watch.thread_id)
    report = Received([])
    intake = Intake(session)
    for item in found:
        keys = keys_of(watch.provider, item)
        if seen.intersection(keys):
            report.already_seen += 1
            continue
        checked, problems = intake.validate([item.data])
        if problems:
            report.invalid += 1
            continue
        fresh, duplicates = intake.duplicates(checked)
        known = duplicates[0].existing_id if duplicates else None
        if known is not None and _in_thread(session, watch.thread_id, known):
            report.already_in_thread += 1
            continue
        if known is not None:  # the identifier is a known source's: its work, by that rule
            work = session.scalar(select(Source.work_id).where(Source.id == known))
            rule = duplicates[0].field
        else:  # a new source; maybe a copy of a known work (arXiv version, published, mirror)
            work, rule, _ = intake.group(fresh)[fresh[0].index]
        row = InboxItem(
            thread_id=watch.thread_id,
            watch_id=watch.id,
            external_id=item.external_id[:500],
            title=checked[0].data.title,
            data=item.data,
            known_source_id=known,
            known_work_id=work,
            match_rule=rule,
        )
        session.add(row)
        session.flush()
        session.add_all(
            InboxKey(thread_id=watch.thread_id, key=k, item_id=row.id) for k in dict.fromkeys(keys)
        )
        seen.update(keys)
        report.added.append(row.id)
    session.flush()
    return report


# --- reading


def get_item(session: Session, item_id: int, for_update: bool = False) -> InboxItem:
    """The item; `for_update` locks its row (PostgreSQL) so that two curators deciding on it
    at once are served one after the other, the second told it is decided already."""
    item = session.get(InboxItem, item_id, with_for_update=for_update)
    if item is None:
        raise NotFound(f"inbox item {item_id} not found", field="path.item_id")
    return item


def list_items(
    session: Session,
    thread: Thread,
    status: InboxStatus | None,
    watch_id: int | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    stmt = select(InboxItem).where(InboxItem.thread_id == thread.id)
    if status is not None:
        stmt = stmt.where(InboxItem.status == status)
    if watch_id is not None:
        stmt = stmt.where(InboxItem.watch_id == watch_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(InboxItem.id.desc()).limit(limit).offset(offset)).all()
    return page(list(rows), total, limit, offset)


# --- deciding


def _pending(item: InboxItem) -> None:
    if item.status != InboxStatus.pending:
        raise Conflict(
            f"inbox item {item.id} was already {item.status.value}",
            field="status",
            details={"status": item.status.value, "source_id": item.source_id},
        )


def _found_via(session: Session, item: InboxItem) -> str:
    watch = session.get(Watch, item.watch_id) if item.watch_id else None
    return f"watch:{watch.name}"[:200] if watch else "inbox"


def _add_to_thread(session: Session, item: InboxItem, source_id: int) -> None:
    if session.get(ThreadItem, (item.thread_id, source_id)) is not None:
        return
    source = session.get(Source, source_id)
    assert source is not None
    Numbers(session, item.thread_id).ensure([(source.work_id, source.id)])
    session.add(
        ThreadItem(
            thread_id=item.thread_id, source_id=source_id, found_via=_found_via(session, item)
        )
    )


def _create_source(session: Session, item: InboxItem, work_id: int | None) -> int:
    """A new source from the item (joining `work_id` when given), or the existing one that
    has since taken its identifier."""
    data = dict(item.data, **({"work_id": work_id} if work_id is not None else {}))
    intake = Intake(session)
    checked, problems = intake.validate([data])
    if problems:  # the provider's record no longer validates (rules changed since)
        raise InvalidInput(
            f"inbox item {item.id}: {problems[0].field}: {problems[0].message}",
            field=f"data.{problems[0].field}",
        )
    _, duplicates = intake.duplicates(checked)
    if duplicates and duplicates[0].existing_id is not None:
        return duplicates[0].existing_id
    result = ingest(session, [data], "all")
    return int(result["items"][0]["id"])


def _decide(item: InboxItem, status: InboxStatus, by: str | None, reason: str | None) -> None:
    item.status = status
    item.decided_at = utcnow()
    item.decided_by = by
    item.reason = reason


def accept(session: Session, item: InboxItem, by: str | None, reason: str | None = None) -> None:
    """The item becomes a source of the thread: the known source it copies, or a new one
    (joining the known work it is a copy of)."""
    _pending(item)
    source_id = item.known_source_id or _create_source(session, item, None)
    _add_to_thread(session, item, source_id)
    item.source_id = source_id
    _decide(item, InboxStatus.accepted, by, reason)
    session.flush()


def reject(session: Session, item: InboxItem, by: str | None, reason: str | None) -> None:
    _pending(item)
    _decide(item, InboxStatus.rejected, by, reason)
    session.flush()


def merge(
    session: Session, item: InboxItem, source_id: int, by: str | None, reason: str | None = None
) -> None:
    """The item is another copy of `source_id`'s work: kept as a copy there (or, when it is
    that very source, nothing new is made), and the work joins the thread."""
    _pending(item)
    target = session.get(Source, source_id)
    if target is None:
        raise NotFound(f"source {source_id} not found", field="source_id")
    if item.known_source_id is not None:
        known = session.get(Source, item.known_source_id)
        if known is not None and known.work_id != target.work_id:
            raise Conflict(
                f"inbox item {item.id} is source {known.id} (work {known.work_id}) already; "
                f"merge works {known.work_id} and {target.work_id} with POST /works/merge, "
                "or accept the item",
                field="source_id",
                details={"known_source_id": known.id},
            )
        copy_id = item.known_source_id
    else:
        copy_id = _create_source(session, item, target.work_id)
    _add_to_thread(session, item, copy_id)
    item.source_id = copy_id
    _decide(item, InboxStatus.merged, by, reason)
    session.flush()


def decide(
    session: Session, item: InboxItem, action: BulkAction, by: str | None, reason: str | None
) -> None:
    if action == "accept":
        accept(session, item, by, reason)
    else:
        reject(session, item, by, reason)


def bulk(
    session: Session,
    thread: Thread,
    action: BulkAction,
    item_ids: list[int],
    by: str | None,
    reason: str | None,
) -> list[InboxItem]:
    """Accept or reject many pending items of the thread at once: all or none."""
    rows = {
        i.id: i for i in session.scalars(select(InboxItem).where(InboxItem.id.in_(item_ids))).all()
    }
    for position, item_id in enumerate(item_ids):
        item = rows.get(item_id)
        if item is None or item.thread_id != thread.id:
            raise NotFound(
                f"inbox item {item_id} is not in thread {thread.id}'s inbox",
                field=f"item_ids.{position}",
            )
        if item.status != InboxStatus.pending:
            raise Conflict(
                f"inbox item {item_id} was already {item.status.value}; nothing was changed",
                field=f"item_ids.{position}",
            )
    for item_id in item_ids:
        decide(session, rows[item_id], action, by, reason)
    return [rows[i] for i in item_ids]


def accepted_since(session: Session, thread_id: int, since: Any) -> list[InboxItem]:
    """Items accepted or merged into the thread after `since` (for the version digest)."""
    return list(
        session.scalars(
            select(InboxItem)
            .where(
                InboxItem.thread_id == thread_id,
                InboxItem.status.in_([InboxStatus.accepted, InboxStatus.merged]),
                InboxItem.decided_at > since,
            )
            .order_by(InboxItem.decided_at)
        )
    )
