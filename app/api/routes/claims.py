"""/claims and /evidence: CRUD."""

from app.api.crud import crud_router
from app.services.claims import CLAIMS, EVIDENCE

router = crud_router(CLAIMS, tag="claims")
evidence_router = crud_router(EVIDENCE, tag="evidence")
