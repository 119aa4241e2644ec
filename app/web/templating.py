"""The Jinja2 environment shared by the HTML pages."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def number(value: object) -> str:
    """Numbers for people: 4 significant digits for floats, as-is for the rest."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


TEMPLATES.env.filters["number"] = number
