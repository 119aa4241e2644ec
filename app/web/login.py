"""Browser login: a token, typed once, becomes a signed session cookie.

The session cookie is HttpOnly; a second cookie carries the session's CSRF token, which
pages send back in `X-CSRF-Token` (or a form field) with each write. Another site can
neither read that cookie nor set the header, so it cannot write on the user's behalf.
"""

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import SessionDep
from app.core.auth import CSRF_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE_S, session_cookie
from app.services import tokens
from app.web.common import HTML_EXAMPLE, html_router
from app.web.templating import TEMPLATES

router = html_router()


@router.get(
    "/login",
    summary="Log in (HTML form)",
    description="A form that exchanges a token for a session cookie, then returns to `next`.",
    responses={200: HTML_EXAMPLE},
)
def login_form(
    request: Request, next: Annotated[str, Query(max_length=500, examples=["/threads/1"])] = "/"
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "login.html", {"error": None, "next": next})


@router.post(
    "/login",
    summary="Log in with a token",
    description="Checks the token and sets the session cookie (HttpOnly, SameSite=Lax, Secure "
    "outside development) and the CSRF cookie; redirects to `next` (default /). A wrong "
    "token gets the form again with 401.",
    responses={
        200: HTML_EXAMPLE,
        303: {"description": "Logged in"},
        401: {"description": "Unknown token"},
    },
)
def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200, examples=["atlas_1a2b3c4d_…"])],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    row = tokens.verify(session, token.strip())
    if row is None:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {"error": "That token is unknown or revoked.", "next": next},
            status_code=401,
        )
    settings = request.app.state.settings
    value, csrf = session_cookie(settings, row)
    # Only a path on this site: "//host" and "/\host" would lead browsers elsewhere.
    target = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"
    response = RedirectResponse(target, status_code=303)
    secure = settings.environment not in ("development", "test")
    for name, content, http_only in ((SESSION_COOKIE, value, True), (CSRF_COOKIE, csrf, False)):
        response.set_cookie(
            name,
            content,
            max_age=SESSION_MAX_AGE_S,
            secure=secure,
            httponly=http_only,
            samesite="lax" if http_only else "strict",
            path="/",
        )
    return response


@router.post(
    "/logout",
    summary="Log out",
    description="Clears the session cookies.",
    responses={200: HTML_EXAMPLE, 303: {"description": "Logged out"}},
)
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
