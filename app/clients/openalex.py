"""OpenAlex: GET /works/{id} (W…, doi:…, or a DOI URL); abstracts come as inverted indexes."""

from typing import Any
from urllib.parse import quote

from app.clients.http import HttpProvider, ProviderError
from app.clients.names import authors_from
from app.core.errors import NotFound
from app.services.formats.common import find_arxiv

KINDS = {
    "article": "paper",
    "preprint": "preprint",
    "book": "book",
    "book-chapter": "paper",
    "dissertation": "paper",
    "review": "survey",
    "proceedings-article": "paper",
}


def abstract_from_index(index: dict[str, list[int]] | None) -> str | None:
    if not index:
        return None
    words = sorted((pos, word) for word, positions in index.items() for pos in positions)
    return " ".join(word for _, word in words) or None


def to_source(work: dict[str, Any]) -> dict[str, Any]:
    authors = authors_from(
        [(a.get("author") or {}).get("display_name") for a in work.get("authorships") or []]
    )
    location = work.get("primary_location") or {}
    ids = work.get("ids") or {}
    landing = location.get("landing_page_url")
    source = {
        "kind": KINDS.get(work.get("type") or "", "paper"),
        "title": " ".join((work.get("title") or work.get("display_name") or "").split()),
        "authors": authors,
        "date": work.get("publication_date")
        or (str(work["publication_year"]) if work.get("publication_year") else None),
        "venue": (location.get("source") or {}).get("display_name"),
        "doi": work.get("doi") or ids.get("doi"),
        "arxiv": find_arxiv(landing, ids.get("arxiv")),
        "url": landing,
        "abstract": abstract_from_index(work.get("abstract_inverted_index")),
    }
    return {k: v for k, v in source.items() if v not in (None, "", [])}


class OpenAlex(HttpProvider):
    name = "OpenAlex"
    base = "https://api.openalex.org/works"

    def lookup(self, work_id: str) -> dict[str, Any]:
        response = self.get(
            f"{self.base}/{quote(work_id, safe=':/')}",
            params={"mailto": self.settings.contact_email},
        )
        if response.status_code == 404:
            raise NotFound(f"OpenAlex knows no work {work_id}", field="identifier")
        if response.status_code != 200:
            raise ProviderError(f"OpenAlex answered {response.status_code}")
        try:
            return to_source(response.json())
        except (ValueError, AttributeError, TypeError):
            raise ProviderError("OpenAlex sent an answer that is not a work") from None
