"""What every HTML page route shares: rendering, errors as pages, the router set-up."""

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import AppError
from app.web.templating import TEMPLATES

HTML_EXAMPLE = {"content": {"text/html": {"example": "<!doctype html>…"}}}
# Pages answer their errors as pages too (install_page_errors).
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, **HTML_EXAMPLE}
    for status, description in (
        (400, "Bad input, said on the page"),
        (401, "Needs a login with a token"),
        (403, "The login's token may not do this"),
        (404, "Not found"),
        (409, "Conflicts with existing data"),
        (413, "Request body too large"),
        (422, "A parameter or field failed validation, named on the page"),
        (429, "The job queue is full"),
    )
}


def html_router() -> APIRouter:
    return APIRouter(
        tags=["pages"],
        default_response_class=HTMLResponse,
        responses={200: HTML_EXAMPLE, **PAGE_ERRORS},
    )


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


# Paths that answer in JSON whatever happens; every other path is a page for people.
NOT_PAGES = ("/api/", "/docs", "/openapi.json", "/static/", "/health", "/ping")


def install_page_errors(app: FastAPI) -> None:
    """Errors on pages (not found, a bad parameter, a missing login) answer with an HTML page
    and the same status; the API keeps its JSON. Wraps the JSON handlers already installed."""
    for kind in (AppError, RequestValidationError, StarletteHTTPException):
        app.exception_handlers[kind] = _page_or(app.exception_handlers[kind])


def _page_or(api_handler: Any) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        answer: Response = await api_handler(request, exc)
        if request.url.path.startswith(NOT_PAGES):
            return answer
        message = json.loads(bytes(answer.body))["error"]["message"]
        context = {"message": message, "status": answer.status_code}
        return render(request, "missing.html", context, status_code=answer.status_code)

    return handler
