"""/threads/{ref}/watches and /watches/{id}: saved queries polled into the thread's inbox."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, status

from app.api.crud import write
from app.api.deps import Limit, Offset, SessionDep
from app.clients.http import ProviderError, ProviderTimeout, ProviderUnavailable
from app.core.errors import Conflict
from app.models.common import MAX_ID, Page
from app.services import watches
from app.services.crud import get_row
from app.services.threads import RESOURCE as THREADS

router = APIRouter(tags=["watches"])
ThreadRef = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]
WatchId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
FAILURES = {503: ProviderUnavailable, 504: ProviderTimeout}
POLL_EXAMPLE = {
    "watch_id": 1,
    "status": "ok",
    "added": 2,
    "item_ids": [14, 15],
    "already_seen": 48,
    "already_in_thread": 0,
    "invalid": 0,
    "requests": 1,
    "error": None,
    "error_status": None,
    "next_poll_at": "2026-11-27T09:00:00+00:00",
}


@router.get(
    "/threads/{ref}/watches",
    response_model=Page[watches.WatchPublic],
    summary="List a thread's watches",
    description="Each watch with its schedule, what it has seen (cursor), its last error and "
    "failure count, when it is polled next (next_retry_at while failing), and how many of "
    "its items wait in the inbox.",
)
def list_watches(session: SessionDep, ref: ThreadRef, limit: Limit = 50, offset: Offset = 0) -> Any:
    return watches.list_watches(session, get_row(session, THREADS, ref), limit, offset)


@router.post(
    "/threads/{ref}/watches",
    response_model=watches.WatchPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Watch a provider for a thread",
    description="A saved query polled every `every_minutes` (first poll at the scheduler's "
    "next tick): an arXiv search, a Semantic Scholar search or the citations / references "
    "of a paper, an OpenAlex works filter, or an RSS/Atom feed. New items land in the "
    "thread's inbox (GET /threads/{ref}/inbox).",
)
def post_watch(
    request: Request,
    session: SessionDep,
    ref: ThreadRef,
    body: Annotated[watches.WatchCreate, Body()],
) -> Any:
    settings = request.app.state.settings

    def change() -> int:
        return watches.create_watch(session, get_row(session, THREADS, ref), body, settings).id

    watch_id = write(session, change)
    return watches.public(session, watches.get_watch(session, watch_id))


@router.get(
    "/watches/{watch_id}",
    response_model=watches.WatchPublic,
    summary="Get a watch",
    description="The watch, its cursor, last error and next poll (or retry) time.",
)
def get_watch(session: SessionDep, watch_id: WatchId) -> Any:
    return watches.public(session, watches.get_watch(session, watch_id))


@router.patch(
    "/watches/{watch_id}",
    response_model=watches.WatchPublic,
    summary="Change a watch",
    description="Rename it, change its query (which starts its cursor over), its interval, "
    "or pause it (`active: false`).",
)
def patch_watch(
    request: Request,
    session: SessionDep,
    watch_id: WatchId,
    body: Annotated[watches.WatchUpdate, Body()],
) -> Any:
    settings = request.app.state.settings
    write(
        session,
        lambda: watches.update_watch(session, watches.get_watch(session, watch_id), body, settings),
    )
    return watches.public(session, watches.get_watch(session, watch_id))


@router.delete(
    "/watches/{watch_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a watch",
    description="Its inbox items stay, with their decisions; the thread still remembers "
    "every identifier it was offered.",
)
def delete_watch(session: SessionDep, watch_id: WatchId) -> None:
    write(session, lambda: watches.delete_watch(session, watches.get_watch(session, watch_id)))


@router.post(
    "/watches/{watch_id}/poll",
    summary="Poll a watch now",
    description="Asks the provider at once (paused watches too) and files what is new. When "
    "the provider cannot be reached or answers badly, the error, the failure count and the "
    "next retry time are recorded on the watch and the answer is that error (502, 503 or "
    "504) whose `details` is the poll report, `next_poll_at` being the retry time. A poll "
    "already running elsewhere gives 409.",
    responses={
        200: {"content": {"application/json": {"example": POLL_EXAMPLE}}},
        502: {"description": "The provider answered badly; recorded on the watch."},
        503: {"description": "The provider is unreachable; recorded on the watch."},
        504: {"description": "The provider timed out; recorded on the watch."},
    },
)
def poll_watch(request: Request, session: SessionDep, watch_id: WatchId) -> Any:
    watches.get_watch(session, watch_id)
    session.close()  # the poll uses sessions of its own; hold no connection meanwhile
    state = request.app.state
    report = watches.poll(
        state.sessionmaker,
        state.settings,
        watch_id,
        getattr(state, "watch_transport", None),
        getattr(state, "watch_sleep", time.sleep),
    )
    if report.status == "skipped":
        raise Conflict(f"watch {watch_id} is being polled right now; try again shortly")
    if report.status == "failed":
        error = FAILURES.get(report.error_status or 502, ProviderError)
        raise error(report.error or "the poll failed", details=report.public())
    return report.public()
