"""/edges: CRUD."""

from app.api.crud import crud_router
from app.services.edges import RESOURCE

router = crud_router(RESOURCE, tag="edges")
