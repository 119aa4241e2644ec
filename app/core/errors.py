"""Domain errors and the one handler that turns every error into the same JSON shape.

Shape: {"error": {"code": str, "message": str, "field": str | None, "details": any}}
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("atlas.errors")


class ErrorDetail(BaseModel):
    code: str = Field(..., examples=["validation_error"])
    message: str = Field(..., examples=["year: Input should be less than or equal to 2100"])
    field: str | None = Field(None, examples=["year"])
    details: Any = None


class ErrorResponse(BaseModel):
    """The one shape of every error answer."""

    error: ErrorDetail


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class DuplicateIdentifier(Conflict):
    code = "duplicate"

    def __init__(self, message: str, *, field: str, existing_id: int) -> None:
        super().__init__(message, field=field, details={"existing_id": existing_id})
        self.existing_id = existing_id


class HasDependents(Conflict):
    code = "has_dependents"


class InvalidInput(AppError):
    status_code = 422
    code = "invalid"


class Busy(AppError):
    """The job queue is full: try again after `retry_after` seconds."""

    status_code = 429
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after_s": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


def error_body(code: str, message: str, field: str | None = None, details: Any = None) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if details is not None:
        body["details"] = details
    return {"error": body}


def _loc_to_field(loc: tuple | list) -> str:
    """('body', 'sides', 0, 'label') -> 'sides.0.label'; parameters keep 'query.' / 'path.'."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:] or ["body"]
    # Pydantic names the member of a union that failed ('date.str'); the field is enough.
    while len(parts) > 1 and (parts[-1] in _TYPE_TAGS or "[" in parts[-1]):
        parts.pop()
    if parts and "[" in parts[0]:  # the whole body failed a union ("dict[str,any]")
        return "body"
    return ".".join(parts)


_TYPE_TAGS = {"str", "int", "float", "bool", "date", "datetime", "list", "dict", "none"}


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = errors[0]
        ctx = first.get("ctx") or {}
        return JSONResponse(
            status_code=400,
            content=error_body(
                "malformed_json",
                f"Request body is not valid JSON: {ctx.get('error', first.get('msg'))}",
                field="body",
            ),
        )
    details = [
        {"field": _loc_to_field(e.get("loc", ())), "message": e.get("msg"), "type": e.get("type")}
        for e in errors
    ]
    first = details[0] if details else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return JSONResponse(
        status_code=422,
        content=error_body("validation_error", message, field=first["field"], details=details),
    )


def _doc(description: str, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": error_body(code, message, field)}},
    }


# Documented on every API route (the real shape, not FastAPI's default 422 schema).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Malformed JSON", "malformed_json", "Request body is not valid JSON", "body"),
    404: _doc("Unknown id", "not_found", "problem 99 not found", "id"),
    409: _doc(
        "Duplicate identifier, or the row has dependents",
        "duplicate",
        "doi '10.1145/3446776' already belongs to source 5",
        "doi",
    ),
    413: _doc("Request body too large", "payload_too_large", "body over 20000000 bytes"),
    422: _doc(
        "A field failed validation",
        "validation_error",
        "year: Input should be less than or equal to 2100",
        "year",
    ),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content=error_body(exc.code, exc.message, exc.field, exc.details),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        return JSONResponse(
            status_code=exc.status_code,
            content=error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # Services check constraints first; this catches races between two writers.
        log.warning("integrity error: %s", exc.orig)
        return JSONResponse(
            status_code=409,
            content=error_body("conflict", "The change conflicts with existing data."),
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value that validation let through (a backstop).
        log.warning("data error: %s", exc.orig)
        return JSONResponse(
            status_code=422,
            content=error_body("invalid", "A value is too long or out of range for the database."),
        )

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> JSONResponse:
        if type(exc.orig).__name__ == "ProgramLimitExceeded":  # e.g. a text too big to index
            return JSONResponse(
                status_code=422,
                content=error_body("invalid", "A value is too large for the database to index."),
            )
        log.error("database unavailable: %s", exc.orig)
        return JSONResponse(
            status_code=503,
            content=error_body("database_unavailable", "The database is busy or unreachable."),
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            status_code=500, content=error_body("internal_error", "Internal server error.")
        )
