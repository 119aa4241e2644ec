"""/problems: CRUD."""

from app.api.crud import crud_router
from app.services.problems import RESOURCE

router = crud_router(RESOURCE, tag="problems")
