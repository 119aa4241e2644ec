"""RIS (EndNote, Mendeley, Web of Science exports) in, via rispy."""

from typing import Any

import rispy

from app.services.formats.common import Parsed, date_text, find_arxiv, find_doi

TO_KIND = {
    "JOUR": "paper",
    "CONF": "paper",
    "CPAPER": "paper",
    "CHAP": "paper",
    "RPRT": "paper",
    "THES": "paper",
    "BOOK": "book",
    "EBOOK": "book",
    "BLOG": "blog_post",
    "ELEC": "web_page",
    "WEB": "web_page",
    "UNPB": "preprint",
    "GEN": "paper",
}


def _date(entry: dict[str, Any]) -> str | None:
    for key in ("date", "year", "publication_year"):
        value = str(entry.get(key) or "").strip()
        if not value:
            continue
        parts = [p for p in value.replace("-", "/").split("/") if p.strip()]
        try:
            return date_text(*[*parts, None, None][:3])
        except ValueError:
            continue
    return None


def _authors(entry: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in entry.get("authors") or entry.get("first_authors") or []:
        family, _, given = name.partition(",")
        if family.strip():
            out.append({"family": family.strip(), "given": given.strip() or None})
    return out


def parse(text: str) -> Parsed:
    parsed = Parsed()
    try:
        entries = rispy.loads(text)
    except Exception as exc:  # rispy raises plain IOError/ValueError on bad structure
        parsed.errors.append({"line": None, "message": f"not a RIS file: {exc}"})
        return parsed
    for entry in entries:
        urls = entry.get("urls") or []
        texts = [entry.get("doi"), *urls, entry.get("notes") and " ".join(entry["notes"])]
        item = {
            "citekey": entry.get("id"),
            "kind": TO_KIND.get(str(entry.get("type_of_reference")), "paper"),
            "title": entry.get("title") or entry.get("primary_title") or "",
            "authors": _authors(entry),
            "date": _date(entry),
            "venue": entry.get("journal_name")
            or entry.get("secondary_title")
            or entry.get("alternate_title3"),
            "doi": find_doi(*texts),
            "arxiv": find_arxiv(*texts),
            "url": urls[0] if urls else None,
            "abstract": entry.get("abstract"),
            "tags": [k.strip().lower() for k in entry.get("keywords") or [] if k.strip()],
        }
        parsed.add(
            {k: v for k, v in item.items() if v not in (None, [], "")} | {"title": item["title"]},
            None,
        )
    return parsed
