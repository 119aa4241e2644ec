"""Builds the five CRUD endpoints of a resource from its description."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, status

from app.api.deps import Cascade, Limit, Offset, SessionDep, Sort
from app.core.errors import error_body
from app.models.common import Page
from app.services.crud import Resource, get_row, list_rows
from app.services.dependents import delete_row
from app.services.refs import ensure_unique

ERROR_EXAMPLE = {
    "application/json": {"example": error_body("not_found", "problem 99 not found", "id")}
}
RESPONSES_READ: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown id", "content": ERROR_EXAMPLE}
}
RESPONSES_WRITE: dict[int | str, dict[str, Any]] = {
    **RESPONSES_READ,
    409: {"description": "Duplicate identifier or dependents exist"},
    422: {"description": "Invalid field"},
}


def crud_router(res: Resource, *, tag: str) -> APIRouter:
    router = APIRouter(prefix=f"/{res.plural}", tags=[tag])
    public = res.public
    ref_doc = "Numeric id" + (" or slug" if res.has_slug else "")
    Ref = Annotated[str, Path(description=ref_doc, examples=["1"])]
    Filters = Annotated[res.filters_schema, Query()]  # type: ignore[name-defined]
    CreateBody = Annotated[res.create_schema, Body()]  # type: ignore[name-defined]
    UpdateBody = Annotated[res.update_schema, Body()]  # type: ignore[name-defined]

    @router.get(
        "",
        response_model=Page[public],  # type: ignore[valid-type]
        summary=f"List {res.plural}",
        description=f"Paginated list of {res.plural} with filters and sorting.",
    )
    def list_items(
        session: SessionDep,
        filters: Filters,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: Sort = None,
    ) -> Any:
        return list_rows(session, res, filters, limit, offset, sort)

    @router.post(
        "",
        response_model=public,
        status_code=status.HTTP_201_CREATED,
        summary=f"Create a {res.name}",
        responses=RESPONSES_WRITE,
    )
    def create_item(session: SessionDep, body: CreateBody) -> Any:
        ensure_unique(session, res.model, body.model_dump(), None)
        row = res.create(session, body)
        session.commit()
        session.expire_all()
        return res.publish_one(session, get_row(session, res, row.id))

    @router.get(
        "/{ref}", response_model=public, summary=f"Get a {res.name}", responses=RESPONSES_READ
    )
    def get_item(session: SessionDep, ref: Ref) -> Any:
        return res.publish_one(session, get_row(session, res, ref))

    @router.patch(
        "/{ref}",
        response_model=public,
        summary=f"Update a {res.name}",
        responses=RESPONSES_WRITE,
        description="Only the fields present in the body change.",
    )
    def update_item(session: SessionDep, ref: Ref, body: UpdateBody) -> Any:
        row = get_row(session, res, ref)
        ensure_unique(session, res.model, body.model_dump(exclude_unset=True), row.id)
        res.update(session, row, body)
        session.commit()
        session.expire_all()
        return res.publish_one(session, get_row(session, res, row.id))

    @router.delete(
        "/{ref}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete a {res.name}",
        responses=RESPONSES_WRITE,
        description="Answers 409 listing the dependents unless `cascade=true`.",
    )
    def delete_item(session: SessionDep, ref: Ref, cascade: Cascade = False) -> None:
        delete_row(session, get_row(session, res, ref), cascade)
        session.commit()

    return router
