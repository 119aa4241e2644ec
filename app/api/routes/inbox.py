"""/threads/{ref}/inbox and /inbox/{id}: what watches brought, and the curator's triage."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from app.api.crud import write
from app.api.deps import Limit, Offset, SessionDep
from app.core.auth import caller
from app.models import InboxItem
from app.models.common import MAX_ID, Id, Page, UTCDateTime
from app.models.watch import InboxStatus
from app.services import inbox, suggestions
from app.services.crud import get_row
from app.services.threads import RESOURCE as THREADS

router = APIRouter(tags=["inbox"])
ThreadRef = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
ITEM_EXAMPLE: dict[str, Any] = {
    "id": 14,
    "thread_id": 1,
    "watch_id": 1,
    "status": "pending",
    "external_id": "2412.01234",
    "title": "Grokking as the transition from lazy to rich training dynamics",
    "data": {
        "kind": "preprint",
        "title": "Grokking as the transition from lazy to rich training dynamics",
        "arxiv": "2412.01234v1",
        "date": "2024-12-02",
    },
    "known_source_id": None,
    "known_work_id": None,
    "match_rule": None,
    "source_id": None,
    "decided_at": None,
    "decided_by": None,
    "reason": None,
    "created_at": "2026-11-26T09:00:00Z",
}


class InboxItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ITEM_EXAMPLE]})
    id: int
    thread_id: int
    watch_id: int | None
    status: InboxStatus
    external_id: str
    title: str
    data: dict[str, Any] = Field(..., description="The source as the provider describes it.")
    known_source_id: int | None = Field(
        None, description="A source that already has this item's identifier (accept adds it)."
    )
    known_work_id: int | None = Field(
        None, description="The known work this item is a copy of (accept attaches it there)."
    )
    match_rule: str | None = Field(None, description="How the known source or work was found.")
    source_id: int | None = Field(None, description="The source it became or joined.")
    decided_at: UTCDateTime | None
    decided_by: str | None
    reason: str | None
    created_at: UTCDateTime


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Bears on grokking."}]}
    )
    reason: str | None = Field(None, max_length=2000)


class MergeIn(DecisionIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source_id": 5, "reason": "Published version."}]},
    )
    source_id: Id = Field(..., description="The existing source whose work this item copies.")


class BulkIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"action": "reject", "item_ids": [14, 15], "reason": "Off topic."}]
        },
    )
    action: Literal["accept", "reject"]
    item_ids: list[Id] = Field(..., min_length=1, max_length=inbox.MAX_BULK)
    reason: str | None = Field(None, max_length=2000)


class BulkOut(BaseModel):
    action: str
    items: list[InboxItemPublic]


def _who(request: Request, session: Any) -> str | None:
    token = caller(request, session)
    return token.name if token is not None else None


def _decided(session: Any, item_id: int) -> InboxItemPublic:
    return InboxItemPublic.model_validate(inbox.get_item(session, item_id))


def _decide(
    request: Request,
    session: Any,
    item_id: int,
    action: inbox.BulkAction,
    body: DecisionIn | None,
) -> InboxItemPublic:
    reason, who = (body.reason if body else None), _who(request, session)
    write(
        session,
        lambda: inbox.decide(session, inbox.get_item(session, item_id, True), action, who, reason),
    )
    return _decided(session, item_id)


@router.get(
    "/threads/{ref}/inbox",
    response_model=Page[InboxItemPublic],
    summary="List a thread's inbox",
    description="Items the thread's watches brought, newest first; `status=pending` (the "
    "default) for those awaiting triage, or accepted / rejected / merged, or `all`.",
)
def list_inbox(
    session: SessionDep,
    ref: ThreadRef,
    status: Annotated[
        InboxStatus | Literal["all"], Query(description="Which items.", examples=["pending"])
    ] = InboxStatus.pending,
    watch_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this watch's.")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    thread = get_row(session, THREADS, ref)
    wanted = None if status == "all" else InboxStatus(status)
    return inbox.list_items(session, thread, wanted, watch_id, limit, offset)


@router.get(
    "/inbox/{item_id}",
    response_model=InboxItemPublic,
    summary="Get an inbox item",
    description="The item, what it was matched to on arrival, and the decision if any.",
)
def get_item(session: SessionDep, item_id: ItemId) -> Any:
    return inbox.get_item(session, item_id)


@router.get(
    "/inbox/{item_id}/suggestions",
    summary="Suggest where an inbox item belongs",
    description="The problems and tensions (`topics`, both kinds ranked together), claims and "
    "closest existing sources (one copy per work) the item most likely bears on. Ranked by "
    "the similarity of the item's title and abstract to each one's text and by the votes of "
    "its closest sources for what they are tied to; the similarity is that of a local "
    "sentence-embedding model when the `embeddings` extra is installed (`method` "
    "`embedding:…`), of TF-IDF vectors otherwise (`fulltext:tfidf`).",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "method": "embedding:all-MiniLM-L6-v2",
                        "topics": [
                            {
                                "type": "problem",
                                "id": 1,
                                "title": "Why do overparameterized networks generalize?",
                                "score": 0.93,
                                "similarity": 0.41,
                                "neighbour_sources": [5, 12],
                            }
                        ],
                        "problems": [],
                        "tensions": [],
                        "claims": [],
                        "sources": [],
                    }
                }
            }
        }
    },
)
def get_suggestions(
    request: Request,
    session: SessionDep,
    item_id: ItemId,
    limit: Annotated[int, Query(ge=1, le=50, description="Per list.", examples=[5])] = 5,
) -> Any:
    item = inbox.get_item(session, item_id)
    state = request.app.state
    return suggestions.suggest(
        session, state.sessionmaker, state.settings.embeddings, item.data, limit
    )


@router.post(
    "/inbox/{item_id}/accept",
    response_model=InboxItemPublic,
    summary="Accept an inbox item",
    description="The item becomes a source of the thread: the known source with its "
    "identifier, or a new source (a copy joining the known work it matched, if any). Found "
    "via `watch:<name>`. A decided item gives 409.",
)
def accept(
    request: Request,
    session: SessionDep,
    item_id: ItemId,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> Any:
    return _decide(request, session, item_id, "accept", body)


@router.post(
    "/inbox/{item_id}/reject",
    response_model=InboxItemPublic,
    summary="Reject an inbox item",
    description="Remembered: no watch of the thread offers any of its identifiers again.",
)
def reject(
    request: Request,
    session: SessionDep,
    item_id: ItemId,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> Any:
    return _decide(request, session, item_id, "reject", body)


@router.post(
    "/inbox/{item_id}/merge",
    response_model=InboxItemPublic,
    summary="Merge an inbox item into a known work",
    description="The item is another copy of `source_id`'s work (a mirror, a published "
    "version): it is kept as a copy of that work and the work joins the thread.",
)
def merge(
    request: Request, session: SessionDep, item_id: ItemId, body: Annotated[MergeIn, Body()]
) -> Any:
    who = _who(request, session)
    write(
        session,
        lambda: inbox.merge(
            session, inbox.get_item(session, item_id, True), body.source_id, who, body.reason
        ),
    )
    return _decided(session, item_id)


@router.post(
    "/threads/{ref}/inbox/bulk",
    response_model=BulkOut,
    summary="Accept or reject many inbox items",
    description="All or nothing: every id must be a pending item of this thread's inbox, "
    "otherwise nothing changes and the error names the first offending `item_ids.N`.",
)
def bulk(
    request: Request, session: SessionDep, ref: ThreadRef, body: Annotated[BulkIn, Body()]
) -> Any:
    who = _who(request, session)

    def change() -> list[int]:
        thread = get_row(session, THREADS, ref)
        ids = list(dict.fromkeys(body.item_ids))
        return [i.id for i in inbox.bulk(session, thread, body.action, ids, who, body.reason)]

    ids = write(session, change)
    rows = {i.id: i for i in session.query(InboxItem).filter(InboxItem.id.in_(ids))}
    return {"action": body.action, "items": [rows[i] for i in ids]}
