"""/works: likely copies to merge, merging works, and splitting one apart.

Registered before the generic /works/{ref} routes (GET /works/suggestions is not an id).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.crud import write
from app.api.deps import SessionDep
from app.models.common import MAX_ID, Id, ShortText
from app.models.source import WorkPublic
from app.services import works
from app.services.crud import get_row
from app.services.sources import WORKS

router = APIRouter(prefix="/works", tags=["works"])

SUGGESTION = {
    "work_ids": [17, 69],
    "score": 97.0,
    "reason": "a cut-off title starts the other",
    "titles": [
        "Uniform convergence may be unable to explain generalization in deep learning",
        "Uniform convergence may be unable to explain generalization in",
    ],
    "copies": [2, 1],
}


class MergeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"work_ids": [17, 69, 70], "into": 17}]}
    )
    work_ids: list[Id] = Field(..., min_length=2, max_length=1000)
    into: Id | None = Field(None, description="The work that remains (default: the lowest id).")


class PairIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"work_ids": [9, 10]}]}
    )
    work_ids: list[Id] = Field(..., min_length=2, max_length=2)


class SplitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"source_ids": [11, 46], "title": "Is memorization actually necessary? (PDF copy)"}
            ]
        },
    )
    source_ids: list[Id] = Field(..., min_length=1, max_length=10_000)
    title: ShortText | None = None


class MergeOut(BaseModel):
    work: WorkPublic
    moved_sources: int
    moved_edges: int


@router.get(
    "/suggestions",
    summary="Works that are probably copies of one another",
    description="Groups of works whose copies have near-identical titles (rapidfuzz ratio), "
    "or a cut-off title that starts another, with the same first author and year where both "
    "state them; each group lists the scored pairs that join it. Offered for a curator to "
    "merge (POST /works/merge) or dismiss pair by pair; never merged silently.",
    responses={200: {"content": {"application/json": {"example": [SUGGESTION]}}}},
)
def get_suggestions(
    session: SessionDep,
    min_score: Annotated[float, Query(ge=50, le=100, examples=[85])] = 85,
    limit: Annotated[int, Query(ge=1, le=1000, examples=[50])] = 50,
    work_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only pairs with this work.")
    ] = None,
) -> list[dict[str, Any]]:
    return works.suggestions(session, min_score, limit, work_id)


@router.post(
    "/suggestions/dismiss",
    status_code=204,
    summary="Mark two works as distinct",
    description="The pair is not suggested again (a merge of either clears the mark).",
)
def post_dismiss(session: SessionDep, body: Annotated[PairIn, Body()]) -> None:
    write(session, lambda: works.dismiss(session, body.work_ids))


@router.post(
    "/merge",
    response_model=MergeOut,
    summary="Merge works",
    description="Moves every copy and every edge of the named works into one work (`into`, "
    "default the lowest id) and deletes the emptied works. Evidence stays on the copies, so "
    "nothing is lost.",
)
def post_merge(session: SessionDep, body: Annotated[MergeIn, Body()]) -> Any:
    def change() -> tuple[int, dict[str, int]]:
        work, counts = works.merge(session, body.work_ids, body.into)
        return work.id, counts

    work_id, counts = write(session, change)
    return {"work": WORKS.publish_one(session, get_row(session, WORKS, work_id)), **counts}


@router.post(
    "/{ref}/split",
    response_model=WorkPublic,
    status_code=201,
    summary="Split copies out of a work",
    description="Moves the named copies into a new work, undoing a wrong grouping.",
)
def post_split(
    session: SessionDep,
    ref: Annotated[str, Path(description="Numeric id or slug", examples=["12"])],
    body: Annotated[SplitIn, Body()],
) -> Any:
    def change() -> int:
        return works.split(session, get_row(session, WORKS, ref), body.source_ids, body.title).id

    new_id = write(session, change)
    return WORKS.publish_one(session, get_row(session, WORKS, new_id))
