"""/sources and /works: CRUD, plus a source's corrections history."""

from typing import Annotated

from fastapi import Path

from app.api.crud import crud_router
from app.api.deps import SessionDep
from app.models.source import SourceRevisionPublic
from app.services.crud import get_row
from app.services.sources import SOURCES, WORKS

router = crud_router(SOURCES, tag="sources")
works_router = crud_router(WORKS, tag="works")


@router.get(
    "/{ref}/history",
    response_model=list[SourceRevisionPublic],
    summary="Corrections of a source",
    description="Every change to the source's fields, oldest first, with reason and author.",
)
def source_history(
    session: SessionDep, ref: Annotated[str, Path(description="Numeric id", examples=["4"])]
) -> list[SourceRevisionPublic]:
    row = get_row(session, SOURCES, ref)
    return [SourceRevisionPublic.model_validate(r) for r in row.revisions]
