"""Adding sources: one or many as JSON, files in BibTeX / CSL-JSON / RIS, and exports.

Registered before the generic /sources/{ref} routes so that /sources/export is not read as
a source id.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.api.crud import write
from app.api.deps import SessionDep
from app.core.errors import DuplicateIdentifier, InvalidInput
from app.models import Thread
from app.models.common import MAX_ID
from app.models.source import SOURCE_EXAMPLE, SourceCreate, SourcePublic
from app.services.crud import get_row
from app.services.intake import MAX_ITEMS, ingest
from app.services.refs import require_id
from app.services.sources import SOURCES

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
        201: {
            "content": {
                "application/json": {
                    "examples": {
                        "one": {"value": {"id": 130, "work_id": 95, **SOURCE_EXAMPLE}},
                        "many": {"value": BULK_RESULT_EXAMPLE},
                    }
                }
            }
        }
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/SourceCreate"},
                            {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/SourceCreate"},
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
