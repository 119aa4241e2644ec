"""Adding sources: one or many as JSON, files in BibTeX / CSL-JSON / RIS, and exports.

Registered before the generic /sources/{ref} routes so that /sources/export is not read as
a source id.
"""

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.api.crud import write
from app.api.deps import SessionDep
from app.core.errors import DuplicateIdentifier, InvalidInput
from app.models import Thread
from app.models.common import MAX_ID
from app.models.source import SOURCE_EXAMPLE, SourceCreate, SourcePublic
from app.services.crud import get_row
from app.services.formats.common import decode
from app.services.importing import export, import_text
from app.services.intake import MAX_ITEMS, ingest
from app.services.lookup import Provider, lookup
from app.services.refs import require_id
from app.services.sources import SOURCES, SourceFilters

router = APIRouter(prefix="/sources", tags=["sources"])

ThreadId = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Also add the new sources to this thread as items."),
]
FoundVia = Annotated[
    str | None,
    Query(max_length=200, description="How the items were found (default: the thread's tag)."),
]
BULK_RESULT_EXAMPLE = {
    "created": 2,
    "duplicates": 1,
    "invalid": 1,
    "items": [
        {"index": 0, "status": "created", "id": 130, "work_id": 95},
        {"index": 1, "status": "created", "id": 131, "work_id": 95, "grouped_by": "arxiv"},
        {
            "index": 2,
            "status": "duplicate",
            "existing_id": 16,
            "field": "arxiv",
            "message": "arxiv already belongs to source 16",
        },
        {
            "index": 3,
            "status": "invalid",
            "field": "date",
            "message": "Value error, '2019-13' is not a valid calendar date",
        },
    ],
}


# The body is read as raw JSON (so that `mode=report` can judge each item), so FastAPI does
# not list SourceCreate among the schema's components: the body schema carries it inline,
# its nested models (Author, SourceKind: SourcePublic's too) pointing at the components.
SOURCE_CREATE_SCHEMA = {
    key: value
    for key, value in SourceCreate.model_json_schema(
        ref_template="#/components/schemas/{model}"
    ).items()
    if key != "$defs"
}


def _thread(session: Any, thread_id: int | None) -> Thread | None:
    if thread_id is None:
        return None
    require_id(session, Thread, thread_id, "query.thread_id")
    return session.get(Thread, thread_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create one source or many",
    description=(
        f"A JSON object creates one source (201, the source). A JSON array (up to {MAX_ITEMS}) "
        "creates many: by default all or nothing (one invalid or duplicate item refuses the "
        "lot, naming it); with `mode=report` each item is saved or refused on its own and the "
        "answer reports each (`created`, `duplicate` with `existing_id`, `invalid` with the "
        "field and reason). New sources join an existing work when they are another arXiv "
        "version of it or the same post listed again or mirrored (`grouped_by`)."
    ),
    responses={
        200: {
            "description": "An array in `mode=report`: the per-item report",
            "content": {"application/json": {"example": BULK_RESULT_EXAMPLE}},
        },
        201: {
            "content": {
                "application/json": {
                    "examples": {
                        "one": {"value": {"id": 130, "work_id": 95, **SOURCE_EXAMPLE}},
                        "many": {"value": BULK_RESULT_EXAMPLE},
                    }
                }
            }
        },
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            SOURCE_CREATE_SCHEMA,
                            {
                                "type": "array",
                                "items": SOURCE_CREATE_SCHEMA,
                                "maxItems": MAX_ITEMS,
                            },
                        ]
                    },
                    "examples": {
                        "one": {"value": SOURCE_EXAMPLE},
                        "many": {
                            "value": [SOURCE_EXAMPLE, {**SOURCE_EXAMPLE, "arxiv": "1902.04742v1"}]
                        },
                    },
                }
            },
            "required": True,
        }
    },
)
def create_sources(
    session: SessionDep,
    body: Annotated[dict[str, Any] | list[Any], Body()],
    mode: Annotated[Literal["all", "report"], Query(description="For arrays.")] = "all",
    thread_id: ThreadId = None,
    found_via: FoundVia = None,
) -> Any:
    if isinstance(body, dict):
        return _create_one(session, body, thread_id, found_via)

    def change() -> dict[str, Any]:
        return ingest(session, body, mode, _thread(session, thread_id), found_via)

    result = write(session, change)
    return JSONResponse(status_code=201 if mode == "all" else 200, content=result)


def _create_one(
    session: Any, body: dict[str, Any], thread_id: int | None, found_via: str | None
) -> SourcePublic:
    try:
        SourceCreate.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None

    def change() -> int:
        result = ingest(session, [body], "report", _thread(session, thread_id), found_via)
        item = result["items"][0]
        if item["status"] == "duplicate":
            raise DuplicateIdentifier(
                item["message"], field=item["field"], existing_id=item["existing_id"]
            )
        if item["status"] == "invalid":
            raise InvalidInput(f"{item['field']}: {item['message']}", field=item["field"])
        return int(item["id"])

    source_id = write(session, change)
    return SOURCES.publish_one(session, get_row(session, SOURCES, source_id))


IMPORT_EXAMPLE = {
    "format": "bibtex",
    "entries": 3,
    "created": 1,
    "duplicates": 1,
    "invalid": 0,
    "unreadable": 1,
    "items": [
        {"index": 0, "status": "created", "id": 140, "work_id": 99, "line": 1},
        {
            "index": 1,
            "status": "duplicate",
            "existing_id": 16,
            "field": "arxiv",
            "message": "arxiv already belongs to source 16",
            "line": 9,
        },
    ],
    "errors": [{"line": 15, "message": "Parsing of `@article` block (line 14) aborted …"}],
}


@router.post(
    "/import",
    summary="Import a BibTeX, CSL-JSON or RIS file",
    description=(
        "Send the file as the request body (any content type). The format is detected "
        "unless `format` names it. LaTeX accents and braces become Unicode, authors are split "
        "into given/family names, arXiv ids and DOIs are found in any field. By default "
        "(`mode=report`) unreadable entries are reported by line and the rest is imported; "
        "`mode=all` saves nothing unless every entry is fine. Files must be UTF-8 unless "
        "`encoding` says otherwise."
    ),
    responses={200: {"content": {"application/json": {"example": IMPORT_EXAMPLE}}}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-bibtex": {
                    "schema": {"type": "string"},
                    "example": "@article{feldman2020,\n  title = {Does learning require "
                    "memorization?},\n  author = {Feldman, Vitaly},\n  year = {2020},"
                    "\n  eprint = {1906.05271}, archivePrefix = {arXiv}\n}\n",
                },
                "application/vnd.citationstyles.csl+json": {"schema": {"type": "array"}},
                "application/x-research-info-systems": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_file(
    request: Request,
    session: SessionDep,
    format: Annotated[Literal["auto", "bibtex", "csljson", "ris"], Query()] = "auto",
    mode: Annotated[Literal["all", "report"], Query()] = "report",
    encoding: Annotated[str, Query(max_length=40, examples=["utf-8"])] = "utf-8",
    thread_id: ThreadId = None,
    found_via: FoundVia = None,
) -> Any:
    text = decode(await request.body(), encoding)

    def run() -> dict[str, Any]:
        return write(
            session,
            lambda: import_text(
                session, text, format, mode, _thread(session, thread_id), found_via
            ),
        )

    return await run_in_threadpool(run)


@router.get(
    "/export",
    response_class=Response,
    summary="Export sources as BibTeX or CSL-JSON",
    description="Every source matching the filters (the same as GET /sources), as a file "
    "that imports back to the same records.",
    responses={
        200: {
            "content": {
                "application/x-bibtex": {"example": "@article{feldman2020,\n title = {…}\n}\n"},
                "application/vnd.citationstyles.csl+json": {
                    "example": [{"id": "feldman2020", "type": "article-journal"}]
                },
            }
        }
    },
)
def export_sources(
    session: SessionDep,
    filters: Annotated[SourceFilters, Query()],
    format: Annotated[Literal["bibtex", "csljson"], Query(examples=["bibtex"])] = "bibtex",
) -> Response:
    media = {
        "bibtex": "application/x-bibtex; charset=utf-8",
        "csljson": "application/vnd.citationstyles.csl+json; charset=utf-8",
    }[format]
    suffix = {"bibtex": "bib", "csljson": "json"}[format]
    return Response(
        content=export(session, filters, format),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="sources.{suffix}"'},
    )


class LookupIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"identifier": "10.1145/3357713.3384290"},
                {"identifier": "arXiv:1902.04742v2"},
                {"identifier": "1906.05271", "provider": "semanticscholar"},
            ]
        },
    )
    identifier: str = Field(
        ...,
        min_length=3,
        max_length=300,
        description="A DOI, arXiv id, Semantic Scholar id or OpenAlex id "
        "(bare, as a URL, or as DOI:… / ARXIV:…).",
    )
    provider: Provider | None = Field(None, description="Default: the one that owns the id.")


LOOKUP_EXAMPLE = {
    "provider": "arxiv",
    "identifier": "1902.04742v2",
    "existing_id": None,
    "source": {
        "kind": "preprint",
        "title": "Uniform convergence may be unable to explain generalization in deep learning",
        "authors": [
            {"given": "Vaishnavh", "family": "Nagarajan"},
            {"given": "J. Zico", "family": "Kolter"},
        ],
        "date": "2019-02-13",
        "arxiv": "1902.04742v2",
    },
}


@router.post(
    "/lookup",
    summary="Look a paper up by DOI, arXiv id, Semantic Scholar or OpenAlex id",
    description="Asks the provider (Crossref for DOIs, arXiv for arXiv ids, Semantic Scholar, "
    "OpenAlex) and answers a filled source, ready to POST to /sources, with `existing_id` if "
    "it is already here. An unreachable provider answers 503, a slow one 504, a bad answer "
    "502, all within the configured deadline.",
    responses={
        200: {"content": {"application/json": {"example": LOOKUP_EXAMPLE}}},
        502: {"description": "Provider error"},
        503: {"description": "Provider unreachable"},
        504: {"description": "Provider timed out"},
    },
)
def post_lookup(request: Request, session: SessionDep, body: Annotated[LookupIn, Body()]) -> Any:
    state = request.app.state
    return lookup(
        session,
        state.settings,
        body.identifier,
        body.provider,
        transport=getattr(state, "lookup_transport", None),
        sleep=getattr(state, "lookup_sleep", time.sleep),
    )
