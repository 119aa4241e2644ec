"""/threads/{ref}/versions: publish immutable narrative versions, read them as JSON,
Markdown or HTML, compare two, follow changes, and subscribe to a feed."""

import json
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.api.crud import write
from app.api.deps import SessionDep
from app.models import ThreadVersion
from app.models.common import InstantIn
from app.services import narratives, renders
from app.services.changes_since import changes_since
from app.services.crud import get_row
from app.services.threads import RESOURCE as THREADS

router = APIRouter(prefix="/threads", tags=["versions"])
ThreadRef = Annotated[str, Path(description="Numeric id or slug", examples=["1"])]
Number = Annotated[int, Path(ge=1, le=100_000, description="Version number", examples=[6])]
Format = Annotated[Literal["json", "md", "html"], Query(description="Render.", examples=["md"])]
MEDIA = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


class PublishIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"narrative": "The memorization debate moved: a new submission contests it [9]."},
                {},
            ]
        },
    )
    narrative: str | None = Field(
        None,
        max_length=200_000,
        description="Markdown with [n] citations; leave out to get a generated change digest.",
    )
    published_at: InstantIn | None = Field(None, description="Default: now.")


def _summary(v: ThreadVersion) -> dict[str, Any]:
    return {
        "number": v.number,
        "published_at": v.published_at.astimezone(UTC).isoformat(),
        "item_count": v.item_count,
        "generated": v.generated,
        "content_hash": v.content_hash,
    }


SUMMARY_EXAMPLE = {
    "number": 7,
    "published_at": "2026-05-07T09:00:00+00:00",
    "item_count": 172,
    "generated": False,
    "content_hash": "9f2c…",
}


@router.get(
    "/{ref}/versions",
    summary="List a thread's versions",
    responses={200: {"content": {"application/json": {"example": [SUMMARY_EXAMPLE]}}}},
)
def list_versions(session: SessionDep, ref: ThreadRef) -> list[dict[str, Any]]:
    thread = get_row(session, THREADS, ref)
    rows = session.scalars(
        select(ThreadVersion)
        .where(ThreadVersion.thread_id == thread.id)
        .order_by(ThreadVersion.number)
    ).all()
    return [_summary(v) for v in rows]


@router.post(
    "/{ref}/versions",
    status_code=201,
    summary="Publish the next version",
    description="Freezes the thread's narrative, timeline, perspectives (with their evolution "
    "entry for this version), tensions and numbered sources (one entry per work; a work "
    "keeps its number across versions, older numbers of its copies stay aliases). Every [n] "
    "in the narrative must name a source of the version (422 lists those that do not). "
    "Without a narrative the service drafts a change digest and marks it generated.",
    responses={201: {"content": {"application/json": {"example": SUMMARY_EXAMPLE}}}},
)
def publish(session: SessionDep, ref: ThreadRef, body: Annotated[PublishIn, Body()]) -> Any:
    def change() -> dict[str, Any]:
        thread = get_row(session, THREADS, ref)
        return _summary(narratives.publish(session, thread, body.narrative, body.published_at))

    return write(session, change)


@router.get(
    "/{ref}/versions/{number}",
    summary="Read a version",
    description="The stored document (JSON), or its Markdown or HTML render. A version never "
    "changes: the same request gives the same bytes whatever happened since.",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {"example": {"version": 6}},
                "text/markdown": {"example": "… · history\nVersion 6\n…"},
                "text/html": {"example": "<!doctype html>…"},
            }
        }
    },
)
def read_version(
    session: SessionDep, ref: ThreadRef, number: Number, format: Format = "json"
) -> Response:
    thread = get_row(session, THREADS, ref)
    version = narratives.get_version(session, thread, number)
    body = {"json": lambda v: v.document, "md": renders.markdown, "html": renders.html_page}[
        format
    ](version)
    return Response(
        content=body,
        media_type=MEDIA[format],
        headers={"ETag": f'"{version.content_hash}-{format}"'},
    )


@router.get(
    "/{ref}/versions/{a}/diff/{b}",
    summary="Compare two versions",
    description="Sources added and removed, timeline events added, claims and evidence added, "
    "each perspective's evolution (or `unchanged`), tension status changes, and a unified "
    "diff of the narrative; as JSON or a readable HTML page.",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {"example": {"from": 6, "to": 7}},
                "text/html": {"example": "<!doctype html>…"},
            }
        }
    },
)
def diff_versions(
    session: SessionDep,
    ref: ThreadRef,
    a: Number,
    b: Number,
    format: Annotated[Literal["json", "html"], Query()] = "json",
) -> Response:
    result = narratives.compare(session, get_row(session, THREADS, ref), a, b, "path.b")
    if format == "html":
        return Response(renders.diff_html(result), media_type=MEDIA["html"])
    return Response(json.dumps(result, ensure_ascii=False), media_type=MEDIA["json"])


@router.get(
    "/{ref}/changes",
    summary="What changed since a date",
    description="Sources added to the thread, inbox items accepted or merged into it, "
    "timeline events, claims and evidence recorded, tension status changes and source "
    "corrections since `since` — before any version.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"since": "2026-04-30T00:00:00Z", "sources_added": []}
                }
            }
        }
    },
)
def get_changes(
    session: SessionDep,
    ref: ThreadRef,
    since: Annotated[InstantIn, Query(examples=["2026-04-30T00:00:00Z"])],
) -> dict[str, Any]:
    return changes_since(session, get_row(session, THREADS, ref), since)


@router.get(
    "/{ref}/feed.atom",
    summary="Atom feed of a thread's versions",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {"example": "<feed …>"}}}},
)
def feed(request: Request, session: SessionDep, ref: ThreadRef) -> Response:
    thread = get_row(session, THREADS, ref)
    versions = list(
        session.scalars(select(ThreadVersion).where(ThreadVersion.thread_id == thread.id))
    )
    base = str(request.base_url).rstrip("/")
    return Response(
        renders.atom_feed(thread.title, thread.id, versions, base),
        media_type="application/atom+xml",
    )
