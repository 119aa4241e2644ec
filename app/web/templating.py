"""The Jinja2 environment shared by the HTML pages: filters, and what every page knows
(whether the browser is logged in, its CSRF token, where a graph node's page lives)."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from app.core.auth import CSRF_FIELD, SESSION_COOKIE, read_session
from app.services.renders import linked

# A graph node type → the page that shows it (`work`, `perspective` and `event` pages
# redirect to the page that holds them: a copy, an actor, a thread).
NODE_PAGES = {
    "problem": "/problems/{}",
    "claim": "/claims/{}",
    "tension": "/tensions/{}",
    "source": "/sources/{}",
    "work": "/works/{}",
    "actor": "/actors/{}",
    "perspective": "/perspectives/{}",
    "event": "/events/{}",
    "thread": "/threads/{}",
    "run": "/runs/{}",
}


def node_url(node: str) -> str:
    """`claim:3` → `/claims/3`."""
    node_type, _, node_id = node.partition(":")
    return NODE_PAGES[node_type].format(node_id)


def number(value: object) -> str:
    """Numbers for people: 4 significant digits for floats, as-is for the rest."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _name(person: Any) -> str:
    get = person.get if isinstance(person, dict) else lambda key: getattr(person, key, None)
    return " ".join(x for x in (get("given"), get("family")) if x)


def authors(people: list[Any] | None, et_al: bool = False) -> str:
    """Up to six names, then "et al."."""
    names = [_name(p) for p in people or []]
    shown = ", ".join(names[:6]) + (" et al." if et_al or len(names) > 6 else "")
    return shown or "—"


def _session(request: Request) -> dict[str, Any]:
    data = read_session(request.app.state.settings, request.cookies.get(SESSION_COOKIE))
    return {
        "logged_in": data is not None,
        # From the signed session, not the CSRF cookie: that cookie is SameSite=Strict, so a
        # page reached from another site's link would get none.
        "csrf_token": str(data.get("csrf", "")) if data else "",
        "csrf_field": CSRF_FIELD,
    }


TEMPLATES = Jinja2Templates(
    directory=Path(__file__).parent / "templates", context_processors=[_session]
)
TEMPLATES.env.filters["number"] = number
TEMPLATES.env.filters["authors"] = authors
TEMPLATES.env.globals["node_url"] = node_url
TEMPLATES.env.filters["cited"] = lambda text: Markup(linked(text))  # escaped inside
