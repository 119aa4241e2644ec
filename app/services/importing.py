"""Importing bibliography files and exporting sources, on top of bulk intake."""

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import AppError, InvalidInput
from app.models import Source, Thread
from app.services.formats import bibtex, csljson, ris
from app.services.formats.common import Parsed
from app.services.intake import Mode, ingest
from app.services.sources import SOURCES, SourceFilters

FORMATS = {"bibtex": bibtex, "csljson": csljson, "ris": ris}
EXPORTERS = {"bibtex": bibtex.dump, "csljson": csljson.dump}
MAX_EXPORT = 100_000


def detect(text: str) -> str:
    start = text.lstrip()
    if start.startswith(("[", "{")):
        return "csljson"
    if re.search(r"^TY  - ", text, re.M):
        return "ris"
    if re.search(r"^\s*@\w+\s*[{(]", text, re.M):
        return "bibtex"
    raise InvalidInput(
        "file: not BibTeX, CSL-JSON or RIS; name the format with ?format=", field="file"
    )


def _with_lines(problems: list[dict[str, Any]], parsed: Parsed) -> list[dict[str, Any]]:
    for p in problems:
        line = parsed.lines[p["index"]] if p.get("index") is not None else None
        if line is not None:
            p["line"] = line
    return problems


def import_text(
    session: Session, text: str, fmt: str, mode: Mode, thread: Thread | None, found_via: str | None
) -> dict[str, Any]:
    fmt = detect(text) if fmt == "auto" else fmt
    parsed = FORMATS[fmt].parse(text)
    if not parsed.items and not parsed.errors:
        raise InvalidInput(f"file: no {fmt} entries found", field="file")
    if mode == "all" and parsed.errors:
        first = parsed.errors[0]
        raise InvalidInput(
            f"file: entry at line {first.get('line')} could not be read ({first['message']}); "
            "nothing was saved (use mode=report to import the rest)",
            field="file",
            details={"unreadable": parsed.errors},
        )
    try:
        result = ingest(session, parsed.items, mode, thread, found_via)
    except AppError as exc:
        if isinstance(exc.details, dict) and "problems" in exc.details:
            _with_lines(exc.details["problems"], parsed)
        raise
    _with_lines(result["items"], parsed)
    return {
        "format": fmt,
        "entries": len(parsed.items) + len(parsed.errors),
        **result,
        "unreadable": len(parsed.errors),
        "errors": parsed.errors,
    }


def export(session: Session, filters: SourceFilters, fmt: str) -> str:
    stmt = SOURCES.apply_filters(select(Source), filters).options(*SOURCES.load_options)
    rows = session.scalars(stmt.order_by(Source.id).limit(MAX_EXPORT + 1)).all()
    if len(rows) > MAX_EXPORT:
        raise InvalidInput(
            f"filters: more than {MAX_EXPORT} sources; narrow the filters", field="query"
        )
    public = [p.model_dump(mode="json") for p in SOURCES.publish(session, list(rows))]
    return EXPORTERS[fmt](public)
