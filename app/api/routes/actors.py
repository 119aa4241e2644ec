"""/actors: CRUD."""

from app.api.crud import crud_router
from app.services.actors import RESOURCE

router = crud_router(RESOURCE, tag="actors")
