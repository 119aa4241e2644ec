"""/perspectives: CRUD."""

from app.api.crud import crud_router
from app.services.perspectives import RESOURCE

router = crud_router(RESOURCE, tag="perspectives")
