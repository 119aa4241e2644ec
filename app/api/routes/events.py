"""/events: timeline events, CRUD."""

from app.api.crud import crud_router
from app.services.timeline import RESOURCE

router = crud_router(RESOURCE, tag="timeline")
