"""/tensions: CRUD plus status changes with who, when and why."""

from typing import Annotated

from fastapi import Body, Path

from app.api.crud import crud_router, write
from app.api.deps import SessionDep
from app.models.tension import TensionPublic, TensionStatusChangeIn
from app.services.crud import get_row
from app.services.tensions import RESOURCE, change_status

router = crud_router(RESOURCE, tag="tensions")


@router.post(
    "/{ref}/status",
    response_model=TensionPublic,
    summary="Change a tension's status",
    description="Records the new status with who changed it, when, why, and the sources.",
)
def post_status(
    session: SessionDep,
    ref: Annotated[
        str, Path(description="Numeric id or slug", examples=["memorization-necessity"])
    ],
    body: Annotated[TensionStatusChangeIn, Body()],
) -> TensionPublic:
    def change() -> int:
        tension = get_row(session, RESOURCE, ref)
        change_status(session, tension, body)
        return int(tension.id)

    tension_id = write(session, change)
    return RESOURCE.publish_one(session, get_row(session, RESOURCE, tension_id))
