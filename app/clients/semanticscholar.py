"""Semantic Scholar Graph API: GET /graph/v1/paper/{id}?fields=… (id: S2 id, DOI:…, ARXIV:…)."""

from typing import Any
from urllib.parse import quote

from app.clients.http import HttpProvider, ProviderError
from app.clients.names import authors_from
from app.core.errors import NotFound

FIELDS = "title,authors,year,venue,publicationDate,externalIds,abstract,url,publicationTypes"


def to_source(paper: dict[str, Any]) -> dict[str, Any]:
    ids = paper.get("externalIds") or {}
    authors = authors_from([a.get("name") for a in paper.get("authors") or []])
    types = [t.lower() for t in paper.get("publicationTypes") or []]
    source = {
        "kind": "paper"
        if {"journalarticle", "conference"} & set(types) or ids.get("DOI")
        else ("preprint" if ids.get("ArXiv") else "paper"),
        "title": " ".join((paper.get("title") or "").split()),
        "authors": authors,
        "date": paper.get("publicationDate") or (str(paper["year"]) if paper.get("year") else None),
        "venue": paper.get("venue") or None,
        "doi": ids.get("DOI"),
        "arxiv": ids.get("ArXiv"),
        "url": paper.get("url"),
        "abstract": paper.get("abstract"),
    }
    return {k: v for k, v in source.items() if v not in (None, "", [])}


class SemanticScholar(HttpProvider):
    name = "Semantic Scholar"
    base = "https://api.semanticscholar.org/graph/v1/paper"

    def lookup(self, paper_id: str) -> dict[str, Any]:
        headers = (
            {"x-api-key": self.settings.semantic_scholar_api_key}
            if self.settings.semantic_scholar_api_key
            else None
        )
        response = self.get(
            f"{self.base}/{quote(paper_id, safe=':/')}", params={"fields": FIELDS}, headers=headers
        )
        if response.status_code == 404:
            raise NotFound(f"Semantic Scholar knows no paper {paper_id}", field="identifier")
        if response.status_code != 200:
            raise ProviderError(f"Semantic Scholar answered {response.status_code}")
        try:
            return to_source(response.json())
        except (ValueError, AttributeError, TypeError):
            raise ProviderError("Semantic Scholar sent an answer that is not a paper") from None
