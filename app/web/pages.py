"""HTML pages: an experiment run."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.core.errors import NotFound
from app.models.common import MAX_ID
from app.models.run import ACTIVE
from app.services import runs
from app.web.templating import TEMPLATES

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get(
    "/runs/{run_id}",
    summary="A run's page (HTML)",
    description="The run's plot, signature checks, metrics, verdict and provenance; it "
    "refreshes itself while the run is queued or training.",
    responses={200: {"content": {"text/html": {"example": "<!doctype html>…"}}}},
)
def run_page(
    run_id: Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])],
    request: Request,
    session: SessionDep,
) -> HTMLResponse:
    try:
        run = runs.get_run(session, run_id)
    except NotFound as missing:
        return TEMPLATES.TemplateResponse(
            request, "missing.html", {"message": missing.message}, status_code=404
        )
    public = runs.publish(session, [run])[0]
    spec = runs.require_experiment(run.experiment)
    return TEMPLATES.TemplateResponse(
        request,
        "run.html",
        {"run": public, "spec": spec, "active": run.status in ACTIVE},
    )
