"""CSL-JSON (the citation format of Zotero, Pandoc and citeproc) in and out."""

import json
from typing import Any

from app.core.errors import InvalidInput
from app.services.formats.common import Parsed, date_text, find_arxiv, find_doi

# CSL item types -> source kinds, and back.
TO_KIND = {
    "article-journal": "paper",
    "paper-conference": "paper",
    "chapter": "paper",
    "report": "paper",
    "thesis": "paper",
    "article": "preprint",
    "book": "book",
    "post-weblog": "blog_post",
    "post": "forum_post",
    "webpage": "web_page",
    "speech": "talk",
    "broadcast": "podcast",
    "review": "survey",
}
FROM_KIND = {
    "paper": "article-journal",
    "preprint": "article",
    "book": "book",
    "blog_post": "post-weblog",
    "forum_post": "post",
    "web_page": "webpage",
    "talk": "speech",
    "podcast": "broadcast",
    "survey": "review",
}


def _date(issued: Any) -> str | None:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return date_text(*(parts[0] + [None, None])[:3])
        if issued.get("raw"):
            return str(issued["raw"])
    return None


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    authors = [
        {"given": a.get("given"), "family": a.get("family") or a.get("literal")}
        for a in raw.get("author") or []
        if isinstance(a, dict) and (a.get("family") or a.get("literal"))
    ]

    def text(key: str) -> str | None:
        value = raw.get(key)
        return None if value is None or isinstance(value, dict | list) else str(value)

    texts = [text("DOI"), text("URL"), text("note"), text("number")]
    arxiv = find_arxiv(text("URL"), text("note"), text("number"))
    keywords = raw.get("keyword") or ""
    if isinstance(keywords, list):
        keywords = ",".join(str(k) for k in keywords)
    item = {
        "citekey": raw.get("id") if isinstance(raw.get("id"), str) else None,
        "kind": TO_KIND.get(str(raw.get("type")), "paper"),
        "title": text("title") or "",
        "authors": authors,
        "date": _date(raw.get("issued")),
        "venue": raw.get("container-title") or raw.get("event-title") or raw.get("publisher"),
        "doi": find_doi(*texts),
        "arxiv": arxiv,
        "url": text("URL"),
        "abstract": text("abstract"),
        "tags": [
            k.strip().lower() for k in str(keywords).replace(";", ",").split(",") if k.strip()
        ],
    }
    return {k: v for k, v in item.items() if v not in (None, [], "")} | {"title": item["title"]}


def parse(text: str) -> Parsed:
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidInput("file: JSON nested too deeply", field="file") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"file: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", field="file"
        ) from None
    if isinstance(data, dict):
        data = data.get("items", [data])  # one item on its own is fine
    if not isinstance(data, list):
        raise InvalidInput("file: CSL-JSON is a list of items", field="file")
    parsed = Parsed()
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            parsed.errors.append({"index": index, "message": "an item must be a JSON object"})
            continue
        parsed.add(_item(raw), None)
    return parsed


def dump(sources: list[dict[str, Any]]) -> str:
    items = []
    for s in sources:
        item: dict[str, Any] = {
            "id": s.get("citekey") or f"source-{s['id']}",
            "type": FROM_KIND.get(s["kind"], "article-journal"),
            "title": s["title"],
        }
        if s.get("authors"):
            item["author"] = [{k: v for k, v in a.items() if v} for a in s["authors"]]
        if s.get("date"):
            item["issued"] = {"date-parts": [[int(p) for p in s["date"].split("-")]]}
        for key, name in (
            ("venue", "container-title"),
            ("doi", "DOI"),
            ("url", "URL"),
            ("abstract", "abstract"),
        ):
            if s.get(key):
                item[name] = s[key]
        if s.get("arxiv"):
            item["number"] = f"arXiv:{s['arxiv']}"
        if s.get("tags"):
            item["keyword"] = ", ".join(s["tags"])
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2)
