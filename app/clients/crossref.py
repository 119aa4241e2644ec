"""Crossref REST API: GET /works/{doi} -> {"status": "ok", "message-type": "work", "message": …}."""

import re
from typing import Any
from urllib.parse import quote

from app.clients.http import HttpProvider, ProviderError
from app.core.errors import NotFound

KINDS = {
    "journal-article": "paper",
    "proceedings-article": "paper",
    "posted-content": "preprint",
    "book": "book",
    "monograph": "book",
    "book-chapter": "paper",
    "report": "paper",
    "dissertation": "paper",
    "peer-review": "paper",
}


def _date(message: dict[str, Any]) -> str | None:
    for key in ("published-print", "published-online", "issued", "published", "created"):
        parts = (message.get(key) or {}).get("date-parts") or [[]]
        if parts and parts[0] and parts[0][0]:
            return "-".join(
                f"{int(p):02d}" if i else f"{int(p):04d}" for i, p in enumerate(parts[0][:3])
            )
    return None


def to_source(message: dict[str, Any]) -> dict[str, Any]:
    raw = message.get("title") or [""]
    title = " ".join((raw if isinstance(raw, str) else raw[0] or "").split())
    if message.get("subtitle"):
        title = f"{title}: {message['subtitle'][0]}"
    authors = [
        {"given": a.get("given"), "family": a.get("family") or a.get("name")}
        for a in message.get("author") or []
        if a.get("family") or a.get("name")
    ]
    abstract = message.get("abstract")
    if abstract:
        abstract = " ".join(re.sub(r"<[^>]+>", " ", abstract).split())
    venue = (message.get("container-title") or [None])[0] or (message.get("event") or {}).get(
        "name"
    )
    source = {
        "kind": KINDS.get(message.get("type", ""), "paper"),
        "title": title,
        "authors": authors,
        "date": _date(message),
        "venue": venue,
        "doi": message.get("DOI"),
        "url": message.get("URL"),
        "abstract": abstract,
    }
    return {k: v for k, v in source.items() if v not in (None, "", [])}


class Crossref(HttpProvider):
    name = "Crossref"
    base = "https://api.crossref.org"

    def lookup(self, doi: str) -> dict[str, Any]:
        params = {"mailto": self.settings.contact_email}
        response = self.get(f"{self.base}/works/{quote(doi, safe='/')}", params=params)
        if response.status_code == 404:
            raise NotFound(f"Crossref knows no DOI {doi}", field="identifier")
        if response.status_code != 200:
            raise ProviderError(f"Crossref answered {response.status_code}")
        try:
            body = response.json()
            message = body["message"]
        except (ValueError, KeyError, TypeError):
            raise ProviderError("Crossref sent an answer that is not a work record") from None
        return to_source(message)
