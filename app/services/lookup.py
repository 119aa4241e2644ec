"""Look a paper up by identifier at the provider that owns it; answer a filled source."""

import re
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clients.arxiv import Arxiv
from app.clients.crossref import Crossref
from app.clients.http import ProviderError
from app.clients.openalex import OpenAlex
from app.clients.semanticscholar import SemanticScholar
from app.core.config import Settings
from app.core.errors import InvalidInput
from app.models import Source
from app.models.source import SourceCreate
from app.services import identifiers

Provider = Literal["crossref", "arxiv", "semanticscholar", "openalex"]
CLIENTS: dict[str, Any] = {
    "crossref": Crossref,
    "arxiv": Arxiv,
    "semanticscholar": SemanticScholar,
    "openalex": OpenAlex,
}
S2_ID = re.compile(r"^(?:[0-9a-f]{40}|CorpusId:\d+)$", re.I)
OPENALEX_ID = re.compile(r"^(?:https?://openalex\.org/)?(W\d+)$", re.I)


def classify(identifier: str) -> tuple[str, str]:
    """('doi' | 'arxiv' | 's2' | 'openalex', normalised value) of what the user typed."""
    text = identifier.strip()
    upper = text.upper()
    if upper.startswith("DOI:") or "doi.org/" in text.lower() or text.startswith("10."):
        return "doi", identifiers.normalize_doi(text[4:] if upper.startswith("DOI:") else text)
    if upper.startswith("ARXIV:") or "arxiv.org/" in text.lower() or re.match(r"^\d{4}\.\d", text):
        arxiv_id, version = identifiers.parse_arxiv(
            text[6:] if upper.startswith("ARXIV:") else text
        )
        return "arxiv", identifiers.format_arxiv(arxiv_id, version) or arxiv_id
    if S2_ID.match(text):
        return "s2", text
    m = OPENALEX_ID.match(text)
    if m:
        return "openalex", m.group(1).upper()
    raise ValueError(
        f"'{identifier}' is not a DOI, an arXiv id, a Semantic Scholar id or an OpenAlex id"
    )


def _provider_id(kind: str, value: str, provider: str) -> str:
    if provider == "crossref":
        if kind != "doi":
            raise InvalidInput("provider: Crossref looks up DOIs only", field="provider")
        return value
    if provider == "arxiv":
        if kind != "arxiv":
            raise InvalidInput("provider: arXiv looks up arXiv ids only", field="provider")
        return value
    if provider == "semanticscholar":
        return {"doi": f"DOI:{value}", "arxiv": f"ARXIV:{value}"}.get(kind, value)
    if kind == "openalex":
        return value
    if kind == "doi":
        return f"https://doi.org/{value}"
    raise InvalidInput("provider: OpenAlex looks up OpenAlex ids and DOIs here", field="provider")


def lookup(
    session: Session,
    settings: Settings,
    identifier: str,
    provider: str | None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    try:
        kind, value = classify(identifier)
    except ValueError as exc:
        raise InvalidInput(f"identifier: {exc}", field="identifier") from None
    chosen = (
        provider
        or {"doi": "crossref", "arxiv": "arxiv", "s2": "semanticscholar", "openalex": "openalex"}[
            kind
        ]
    )
    client = CLIENTS[chosen](settings, transport=transport, sleep=sleep)
    try:
        found = client.lookup(_provider_id(kind, value, chosen))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ProviderError(
            f"{client.name} answered a record this service cannot read ({type(exc).__name__})"
        ) from None
    finally:
        client.close()
    try:
        source = SourceCreate.model_validate(found).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProviderError(
            f"{client.name} answered a record that is not a valid source ({where}: {first['msg']})"
        ) from None
    return {
        "provider": chosen,
        "identifier": value,
        "source": source,
        "existing_id": _existing(session, source),
    }


def _existing(session: Session, source: dict[str, Any]) -> int | None:
    if source.get("doi"):
        found = session.scalar(select(Source.id).where(Source.doi == source["doi"]))
        if found:
            return found
    if source.get("arxiv"):
        arxiv_id, version = identifiers.parse_arxiv(source["arxiv"])
        return session.scalar(
            select(Source.id).where(
                Source.arxiv_id == arxiv_id,
                func.coalesce(Source.arxiv_version, 0) == (version or 0),
            )
        )
    return None
