"""arXiv API: GET /api/query?id_list=… answers an Atom feed with one <entry> per paper."""

import xml.etree.ElementTree as ET
from typing import Any

from app.clients.http import HttpProvider, ProviderError
from app.clients.names import authors_from
from app.core.errors import NotFound
from app.services import identifiers

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}


def _text(node: ET.Element | None) -> str | None:
    return " ".join(node.text.split()) if node is not None and node.text else None


def parse_entry(entry: ET.Element) -> dict[str, Any]:
    raw_id = _text(entry.find("atom:id", NS)) or ""
    arxiv_id, version = identifiers.parse_arxiv(raw_id)
    published = (_text(entry.find("atom:published", NS)) or "")[:10] or None
    authors = authors_from(
        [_text(a.find("atom:name", NS)) for a in entry.findall("atom:author", NS)]
    )
    source = {
        "kind": "preprint",
        "title": _text(entry.find("atom:title", NS)) or "",
        "authors": authors,
        "date": published,
        "arxiv": identifiers.format_arxiv(arxiv_id, version),
        "doi": _text(entry.find("arxiv:doi", NS)),
        "venue": _text(entry.find("arxiv:journal_ref", NS)),
        "url": f"https://arxiv.org/abs/{arxiv_id}",
        "abstract": _text(entry.find("atom:summary", NS)),
        "tags": [
            c.get("term", "").lower() for c in entry.findall("atom:category", NS) if c.get("term")
        ],
    }
    return {k: v for k, v in source.items() if v not in (None, "", [])}


def parse_feed(xml: str, wanted: str) -> dict[str, Any]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        raise ProviderError("arXiv sent an answer that is not an Atom feed") from None
    for entry in root.findall("atom:entry", NS):
        entry_id = _text(entry.find("atom:id", NS)) or ""
        if "api/errors" in entry_id or (_text(entry.find("atom:title", NS)) or "") == "Error":
            raise NotFound(
                f"arXiv: {_text(entry.find('atom:summary', NS)) or 'no such id'}",
                field="identifier",
            )
        found = parse_entry(entry)
        if identifiers.parse_arxiv(found["arxiv"])[0] != identifiers.parse_arxiv(wanted)[0]:
            raise ProviderError(f"arXiv answered {found['arxiv']} for {wanted}")
        return found
    raise NotFound(f"arXiv knows no paper {wanted}", field="identifier")


class Arxiv(HttpProvider):
    name = "arXiv"
    base = "https://export.arxiv.org/api/query"

    def lookup(self, arxiv: str) -> dict[str, Any]:
        response = self.get(self.base, params={"id_list": arxiv, "max_results": 1})
        if response.status_code != 200:
            raise ProviderError(f"arXiv answered {response.status_code}")
        return parse_feed(response.text, arxiv)
