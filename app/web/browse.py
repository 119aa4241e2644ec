"""HTML pages for reading across the debate: search, threads, their versions and diffs,
and the form that publishes a new version."""

import json
from typing import Annotated, Any, Literal

from fastapi import Form, Path, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import load_only

from app.api.crud import write
from app.api.deps import SessionDep
from app.core.errors import InvalidInput
from app.models import Perspective, ThreadVersion, TimelineEvent
from app.services import narratives
from app.services.crud import get_row
from app.services.search import search_weighted
from app.services.threads import RESOURCE as THREADS
from app.web.common import html_router, render

router = html_router()
ThreadRef = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]
Number = Annotated[int, Path(ge=1, le=100_000, description="Version number", examples=[6])]
PER_PAGE = 20
KINDS = ("source", "claim", "perspective", "tension")


@router.get(
    "/search",
    summary="Search page (HTML)",
    description="Ranked full-text search over sources, claims, perspectives and tensions, "
    "with the matched words highlighted; 20 results a page.",
)
def search_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(max_length=500, examples=["memorization"])] = "",
    type: Annotated[Literal["", "source", "claim", "perspective", "tension"], Query()] = "",
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Any:
    context: dict[str, Any] = {
        "query": q,
        "kind": type,
        "kinds": KINDS,
        "result": None,
        "error": None,
    }
    if q.strip():
        try:
            context["result"] = search_weighted(
                request.app.state.graph, session, q, type or None, PER_PAGE, offset
            )
        except InvalidInput as bad:
            context["error"] = bad.message
    return render(request, "search.html", context, status_code=400 if context["error"] else 200)


@router.get(
    "/threads", summary="Threads (HTML)", description="Every thread with its latest version."
)
def threads_page(request: Request, session: SessionDep) -> Any:
    rows = THREADS.publish(
        session, list(session.scalars(select(THREADS.model).order_by(THREADS.model.id)))
    )
    latest = {t.id: narratives.latest(session, t.id) for t in rows}
    return render(request, "threads.html", {"threads": rows, "latest": latest})


def _versions(session: SessionDep, thread_id: int) -> list[ThreadVersion]:
    # Not the documents (tens of KB each): a thread may have hundreds of versions.
    listed = load_only(
        ThreadVersion.number,
        ThreadVersion.published_at,
        ThreadVersion.item_count,
        ThreadVersion.generated,
    )
    stmt = select(ThreadVersion).options(listed).where(ThreadVersion.thread_id == thread_id)
    return list(session.scalars(stmt.order_by(ThreadVersion.number.desc())))


@router.get(
    "/threads/{ref}",
    summary="A thread's page (HTML)",
    description="Its versions (read one, compare two, publish the next) and timeline.",
)
def thread_page(ref: ThreadRef, request: Request, session: SessionDep) -> Any:
    thread = get_row(session, THREADS, ref)
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.thread_id == thread.id)
        .order_by(TimelineEvent.date, TimelineEvent.id)
    ).all()
    held = session.scalars(
        select(Perspective).where(Perspective.thread_id == thread.id).order_by(Perspective.id)
    ).all()
    return render(
        request,
        "thread.html",
        {
            "thread": thread,
            "versions": _versions(session, thread.id),
            "events": events,
            "perspectives": held,
        },
    )


@router.post(
    "/threads/{ref}/versions",
    summary="Publish the next version (HTML form)",
    description="Publishes the thread's next version with the narrative typed in the form "
    "(or, left empty, a generated change digest) and redirects to it. Needs the write "
    "scope: a logged-in browser sends its CSRF token as the form field `csrf_token`.",
    responses={303: {"description": "The new version's page"}},
)
def publish_version(
    ref: ThreadRef,
    request: Request,
    session: SessionDep,
    narrative: Annotated[str, Form(max_length=200_000)] = "",
) -> Any:
    def change() -> tuple[str, int]:
        thread = get_row(session, THREADS, ref)
        version = narratives.publish(session, thread, narrative.strip() or None)
        return thread.slug, version.number

    slug, number = write(session, change)
    return RedirectResponse(f"/threads/{slug}/versions/{number}", status_code=303)


@router.get(
    "/threads/{ref}/versions/{number}",
    summary="A version's page (HTML)",
    description="The frozen narrative: text with numbered citations, timeline, perspectives "
    "with their evolution, tensions and sources.",
)
def version_page(ref: ThreadRef, number: Number, request: Request, session: SessionDep) -> Any:
    thread = get_row(session, THREADS, ref)
    version = narratives.get_version(session, thread, number)
    numbers = [v.number for v in _versions(session, thread.id)]
    return render(
        request,
        "version.html",
        {
            "thread": thread,
            "doc": json.loads(version.document),
            "version": version,
            "numbers": numbers,
        },
    )


@router.get(
    "/threads/{ref}/diff",
    summary="Compare two versions (HTML)",
    description="What changed from version `from` to the later version `to`: sources, "
    "timeline, claims, evidence, perspectives, tension statuses and the narrative text.",
)
def diff_page(
    ref: ThreadRef,
    request: Request,
    session: SessionDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=100_000, examples=[6])],
    to: Annotated[int, Query(ge=1, le=100_000, examples=[7])],
) -> Any:
    thread = get_row(session, THREADS, ref)
    result = narratives.compare(session, thread, from_, to, "query.to")
    return render(request, "diff.html", {"thread": thread, "d": result})
