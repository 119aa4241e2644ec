"""Citation numbers of a thread: each work keeps its number across versions; numbers are
appended, never reused; a copy's older number stays an alias of its work."""

from collections import defaultdict

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict
from app.models import Source, ThreadCitation


class Numbers:
    """The thread's numbering: work -> its number, and every number -> its work."""

    def __init__(self, session: Session, thread_id: int) -> None:
        self.s = session
        self.thread_id = thread_id
        rows = session.execute(
            select(ThreadCitation.number, ThreadCitation.work_id)
            .where(ThreadCitation.thread_id == thread_id)
            .order_by(ThreadCitation.number)
        ).all()
        # A number whose work was deleted stays reserved (work None): numbers are never reused.
        self.work_of: dict[int, int] = {n: w for n, w in rows if w is not None}
        self.numbers_of: dict[int, list[int]] = defaultdict(list)
        for n, w in rows:
            if w is not None:
                self.numbers_of[w].append(n)

    def number(self, work_id: int) -> int | None:
        found = self.numbers_of.get(work_id)
        return found[0] if found else None

    def aliases(self, work_id: int) -> list[int]:
        return self.numbers_of.get(work_id, [])[1:]

    def ensure(self, works: list[tuple[int, int | None]]) -> None:
        """Give each (work, first copy) without a number the next one, in the given order."""
        top = (
            self.s.scalar(
                select(func.max(ThreadCitation.number)).where(
                    ThreadCitation.thread_id == self.thread_id
                )
            )
            or 0
        )
        new = []
        for work_id, source_id in works:
            if work_id in self.numbers_of:
                continue
            top += 1
            new.append(
                {
                    "thread_id": self.thread_id,
                    "number": top,
                    "work_id": work_id,
                    "source_id": source_id,
                }
            )
            self.numbers_of[work_id].append(top)
            self.work_of[top] = work_id
        if new:
            self.s.execute(insert(ThreadCitation), new)

    def reserve(self, number: int, work_id: int, source_id: int | None) -> None:
        """Give `number` to a work (e.g. the number a listing had); 409 if another work has it."""
        holder = self.work_of.get(number)
        if holder == work_id:
            return
        if holder is not None or number in self._taken():
            raise Conflict(
                f"citation number {number} is taken in this thread", field="citation_number"
            )
        self.s.execute(
            insert(ThreadCitation).values(
                thread_id=self.thread_id, number=number, work_id=work_id, source_id=source_id
            )
        )
        self.numbers_of[work_id] = sorted([*self.numbers_of[work_id], number])
        self.work_of[number] = work_id

    def _taken(self) -> set[int]:
        return set(
            self.s.scalars(
                select(ThreadCitation.number).where(ThreadCitation.thread_id == self.thread_id)
            )
        )

    def resolve(self, number: int) -> int | None:
        """The canonical number of whatever work `number` (maybe an alias) names."""
        work = self.work_of.get(number)
        return self.number(work) if work is not None else None


def number_of_sources(
    session: Session, thread_id: int, source_ids: list[int]
) -> dict[int, int | None]:
    """Each source's number in the thread: its own (e.g. its listing's), else its work's."""
    own = dict(
        session.execute(
            select(ThreadCitation.source_id, ThreadCitation.number).where(
                ThreadCitation.thread_id == thread_id, ThreadCitation.source_id.in_(source_ids)
            )
        ).all()
    )
    works = dict(
        session.execute(select(Source.id, Source.work_id).where(Source.id.in_(source_ids))).all()
    )
    numbers = Numbers(session, thread_id)
    return {sid: own.get(sid) or numbers.number(works[sid]) for sid in source_ids}


def assign_listing_numbers(session: Session, thread_id: int, numbered: dict[int, int]) -> None:
    """Record given numbers (number -> source id), e.g. the listings of an imported history."""
    existing = set(
        session.scalars(select(ThreadCitation.number).where(ThreadCitation.thread_id == thread_id))
    )
    works = dict(
        session.execute(
            select(Source.id, Source.work_id).where(Source.id.in_(list(numbered.values())))
        ).all()
    )
    rows = [
        {"thread_id": thread_id, "number": n, "work_id": works[s], "source_id": s}
        for n, s in sorted(numbered.items())
        if n not in existing
    ]
    if rows:
        session.execute(insert(ThreadCitation), rows)
