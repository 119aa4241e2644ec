"""The thread's inbox as a page: its watches, the items waiting for triage with their top
suggestions, and accept / reject buttons for a logged-in curator."""

from typing import Annotated, Any, Literal

from fastapi import Form, Path, Query, Request
from fastapi.responses import RedirectResponse

from app.api.crud import write
from app.api.deps import SessionDep
from app.core.auth import caller
from app.models.watch import InboxStatus
from app.services import inbox, suggestions, watches
from app.services.crud import get_row
from app.services.threads import RESOURCE as THREADS
from app.web.common import html_router, render

router = html_router()
ThreadRef = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]
PER_PAGE = 20
SHOWN = 3  # suggestions per item


@router.get(
    "/threads/{ref}/inbox",
    summary="A thread's inbox (HTML)",
    description="The thread's watches (last poll, errors, next retry) and its inbox items "
    "of one status, 20 a page, each with its top problems or tensions and closest known "
    "source; logged-in curators accept or reject from here.",
)
def inbox_page(
    ref: ThreadRef,
    request: Request,
    session: SessionDep,
    status: Annotated[
        InboxStatus | Literal["all"], Query(description="Which items.")
    ] = InboxStatus.pending,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> Any:
    thread = get_row(session, THREADS, ref)
    wanted = None if status == "all" else InboxStatus(status)
    listed = inbox.list_items(session, thread, wanted, None, PER_PAGE, offset)
    state = request.app.state
    pending = [i for i in listed["items"] if i.status == InboxStatus.pending]
    suggested = dict(
        zip(
            [i.id for i in pending],
            suggestions.suggest_many(
                session,
                state.sessionmaker,
                state.settings.embeddings,
                [i.data for i in pending],
                SHOWN,
            ),
            strict=True,
        )
    )
    shown = [{"item": i, "suggested": suggested.get(i.id)} for i in listed["items"]]
    return render(
        request,
        "inbox.html",
        {
            "thread": thread,
            "watches": watches.list_watches(session, thread, 100, 0)["items"],
            "items": shown,
            "page": listed,
            "status": str(status),
            "statuses": [*(s.value for s in InboxStatus), "all"],
            "per_page": PER_PAGE,
        },
    )


@router.post(
    "/inbox/{item_id}/decision",
    summary="Accept or reject an inbox item (HTML form)",
    description="Accepts the item (it becomes a source of the thread) or rejects it "
    "(remembered), then returns to the inbox. Needs the write scope: a logged-in browser "
    "sends its CSRF token as the form field `csrf_token`.",
    responses={303: {"description": "Back to the thread's inbox"}},
)
def decide(
    item_id: Annotated[int, Path(ge=1, le=1_000_000_000, examples=[1])],
    request: Request,
    session: SessionDep,
    action: Annotated[Literal["accept", "reject"], Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Any:
    token = caller(request, session)
    who = token.name if token is not None else None

    def change() -> str:
        item = inbox.get_item(session, item_id, for_update=True)
        inbox.decide(session, item, action, who, reason.strip() or None)
        thread = get_row(session, THREADS, item.thread_id)
        return str(thread.slug)

    slug = write(session, change)
    return RedirectResponse(f"/threads/{slug}/inbox", status_code=303)
