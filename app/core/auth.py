"""Who may do what: bearer tokens for the API, a signed session cookie for browsers.

Reads are public unless `READ_REQUIRES_TOKEN` is set; POST/PATCH/PUT need the `write`
scope and DELETE the `admin` scope. A browser that logged in (POST /login with a token)
carries a signed session cookie instead of a header; its writes must also send the
session's CSRF token in `X-CSRF-Token`, which another site cannot read.
"""

import contextlib
import hmac
import secrets
from typing import Any

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.db import write_intent
from app.core.errors import ERROR_RESPONSES, AppError, _doc
from app.models import ApiToken
from app.services import tokens
from app.services.tokens import Scope

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "atlas_session"
CSRF_COOKIE = "atlas_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the same token, sent by an HTML form
SESSION_MAX_AGE_S = 12 * 3600


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: _doc("No token, or an unknown or revoked one", "unauthorized", "POST needs a token"),
    403: _doc("The token lacks the scope", "forbidden", "scopes (read) do not include write"),
}


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="Authorization")
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


def needed_scope(method: str, settings: Settings) -> Scope | None:
    if method in READ_METHODS:
        return Scope.read if settings.read_requires_token else None
    return Scope.admin if method == "DELETE" else Scope.write


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="atlas-session")


def session_cookie(settings: Settings, token: ApiToken) -> tuple[str, str]:
    """A signed cookie value naming the token, and the session's CSRF token."""
    csrf = secrets.token_urlsafe(24)
    return _serializer(settings).dumps({"token_id": token.id, "csrf": csrf}), csrf


def read_session(settings: Settings, value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        data = _serializer(settings).loads(value, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def _from_header(session: Session, header: str) -> ApiToken:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: expected 'Bearer <token>'")
    row = tokens.verify(session, token.strip())
    if row is None:
        raise Unauthorized("the token is unknown, malformed or revoked")
    return row


def _from_cookie(request: Request, session: Session, settings: Settings) -> ApiToken | None:
    data = read_session(settings, request.cookies.get(SESSION_COOKIE))
    if data is None:
        return None
    row = session.get(ApiToken, data.get("token_id"))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the session's token was revoked: log in again")
    if request.method not in READ_METHODS:
        sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "csrf_form", None) or ""
        if not hmac.compare_digest(sent.encode(), str(data.get("csrf", "")).encode()):
            raise Forbidden(f"{CSRF_HEADER}: missing or wrong for this session", field=CSRF_HEADER)
    return row


def caller(request: Request, session: Session) -> ApiToken | None:
    """The token behind this request (header first, then the session cookie), if any."""
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization")
    if header:
        return _from_header(session, header)
    return _from_cookie(request, session, settings)


# Writes anyone who may read can make: starting an experiment run of a registered quick or
# control preset (cheap, cached, behind a bounded queue). The route itself demands the
# write scope for full presets and custom parameters.
READER_WRITES = frozenset({"start_run", "start_run_form"})


async def authorize(request: Request) -> None:
    """Router dependency: refuses a request whose token lacks the scope it needs.

    Async, and touching the database only when a token must be checked, so that a public
    read costs no session and no trip through the thread pool."""
    settings = request.app.state.settings
    needed = needed_scope(request.method, settings)
    route_name = getattr(request.scope.get("route"), "name", "")
    if needed is Scope.write and route_name in READER_WRITES:
        needed = needed_scope("GET", settings)
    await _read_form_csrf(request)  # also for reader writes: their handler may ask for more
    if needed is not None:
        await run_in_threadpool(_require_in_own_session, request, needed)


async def _read_form_csrf(request: Request) -> None:
    """An HTML form of a logged-in browser sends the CSRF token as a field, not a header.
    The body is read first so that a route reading the raw body still has it, and Starlette
    keeps the parsed form for a route that reads the form."""
    is_form = request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    by_cookie = SESSION_COOKIE in request.cookies and "authorization" not in request.headers
    no_header = CSRF_HEADER not in request.headers
    if request.method not in READ_METHODS and is_form and by_cookie and no_header:
        with contextlib.suppress(RuntimeError):  # "Stream consumed": FastAPI read the
            await request.body()  # route's form fields first, and keeps the parsed form
        value = (await request.form()).get(CSRF_FIELD)
        request.state.csrf_form = value if isinstance(value, str) else ""


def _require_in_own_session(request: Request, needed: Scope) -> None:
    write_intent.set(False)  # a lookup: on SQLite, no write lock (this thread's copy only)
    with request.app.state.sessionmaker() as session:
        require(request, session, needed)


def require(request: Request, session: Session, needed: Scope) -> None:
    """Refuses the request unless its token (header or session) has the `needed` scope."""
    row = caller(request, session)
    if row is None:
        raise Unauthorized(
            f"{request.method} needs a token with the {needed.value} scope: "
            "send 'Authorization: Bearer atlas_…' (create one with `atlas token create`)"
        )
    if not tokens.allows(row, needed):
        raise Forbidden(
            f"the token's scopes ({', '.join(row.scopes)}) do not include {needed.value}",
            field="Authorization",
        )
