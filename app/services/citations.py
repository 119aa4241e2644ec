"""Citation numbers of a thread: each work keeps its number across versions; numbers are
appended, never reused; a copy's older number stays an alias of its work."""

from collections import defaultdict

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

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
        self.work_of: dict[int, int] = {n: w for n, w in rows}
        self.numbers_of: dict[int, list[int]] = defaultdict(list)
        for n, w in rows:
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

    def resolve(self, number: int) -> int | None:
        """The canonical number of whatever work `number` (maybe an alias) names."""
        work = self.work_of.get(number)
        return self.number(work) if work is not None else None


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
