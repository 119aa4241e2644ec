"""What every HTML page route shares: rendering, errors as pages, the router set-up."""

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.core.errors import AppError
from app.web.templating import TEMPLATES

HTML_EXAMPLE = {"content": {"text/html": {"example": "<!doctype html>…"}}}


def html_router() -> APIRouter:
    return APIRouter(
        tags=["pages"], default_response_class=HTMLResponse, responses={200: HTML_EXAMPLE}
    )


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def error_page(request: Request, error: AppError) -> HTMLResponse:
    context = {"message": error.message, "status": error.status_code}
    return render(request, "missing.html", context, status_code=error.status_code)


def page(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A page handler's domain errors (not found, bad input) become an HTML page with the
    same status, not the API's JSON. The handler must take `request`."""

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except AppError as error:
                return error_page(kwargs["request"], error)

        return async_wrapper

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except AppError as error:
            return error_page(kwargs["request"], error)

    return wrapper
