"""Builds the five CRUD endpoints of a resource from its description."""

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.deps import Cascade, Limit, Offset, SessionDep, Sort
from app.core.errors import InvalidInput
from app.models.common import Page
from app.services.crud import Resource, get_row, list_rows
from app.services.dependents import delete_row
from app.services.refs import ensure_unique

T = TypeVar("T")
ATTEMPTS = 5


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def json_answer(model: Any, value: Any) -> Response:
    """`value` serialised as `model` in one step. FastAPI would dump a returned model, then
    validate and serialise it again against the response model: twice the work for reads.
    Model instances are not validated again (pydantic's default), dicts are."""
    adapter = _adapter(model)
    body = adapter.dump_json(adapter.validate_python(value), by_alias=True)
    return Response(body, media_type="application/json")


def write(session: Session, change: Callable[[], T]) -> T:
    """Run `change` and commit. If a concurrent writer made the commit fail on a unique
    constraint, run it again: its own checks then see the other row and answer properly
    (409 with the existing id, or a fresh derived slug)."""
    for attempt in range(ATTEMPTS):
        session.info["attempt"] = attempt
        try:
            result = change()
            session.commit()
            session.expire_all()
            return result
        except IntegrityError:
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def reject_null_collections(body: BaseModel) -> None:
    """In an update, null for a list or an object is refused: send [] or {} to clear it."""
    for name in sorted(body.model_fields_set):
        if getattr(body, name) is not None:
            continue
        annotation = str(type(body).model_fields[name].annotation)
        if "list[" in annotation or "Facets" in annotation or "Scope" in annotation:
            raise InvalidInput(f"{name}: may not be null (send [] to clear it)", field=name)


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
        return json_answer(Page[public], list_rows(session, res, filters, limit, offset, sort))  # type: ignore[valid-type]

    if not res.custom_create:

        @router.post(
            "",
            response_model=public,
            status_code=status.HTTP_201_CREATED,
            summary=f"Create a {res.name}",
        )
        def create_item(session: SessionDep, body: CreateBody) -> Any:
            def change() -> int:
                ensure_unique(session, res.model, body.model_dump(), None)
                return int(res.create(session, body).id)

            row_id = write(session, change)
            return res.publish_one(session, get_row(session, res, row_id))

    @router.get("/{ref}", response_model=public, summary=f"Get a {res.name}")
    def get_item(session: SessionDep, ref: Ref) -> Any:
        return json_answer(public, res.publish_one(session, get_row(session, res, ref)))

    @router.patch(
        "/{ref}",
        response_model=public,
        summary=f"Update a {res.name}",
        description="Only the fields present in the body change.",
    )
    def update_item(session: SessionDep, ref: Ref, body: UpdateBody) -> Any:
        reject_null_collections(body)

        def change() -> int:
            row = get_row(session, res, ref)
            ensure_unique(session, res.model, body.model_dump(exclude_unset=True), row.id)
            res.update(session, row, body)
            return int(row.id)

        row_id = write(session, change)
        return res.publish_one(session, get_row(session, res, row_id))

    @router.delete(
        "/{ref}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete a {res.name}",
        description="Answers 409 listing the rows that depend on this one, unless "
        "`cascade=true`, which deletes them too (and, in turn, what depends on them).",
    )
    def delete_item(session: SessionDep, ref: Ref, cascade: Cascade = False) -> None:
        def change() -> None:
            row = get_row(session, res, ref)
            if res.before_delete is not None:
                res.before_delete(session, row)
            delete_row(session, row, cascade)
            if res.after_delete is not None:
                res.after_delete(session, row)

        write(session, change)

    return router
