"""BibTeX / BibLaTeX in and out (bibtexparser 2): LaTeX accents become Unicode, names are
split into given/family, and arXiv ids and DOIs are found in any field."""

import logging
import re
from typing import Any

import bibtexparser
from bibtexparser import middlewares as mw
from bibtexparser.model import Entry, Field
from pylatexenc.latex2text import LatexNodes2Text

from app.models.common import SourceKind
from app.services.formats.common import Parsed, date_text, find_arxiv, find_doi

# bibtexparser reports each broken block on the root logger too; we report them ourselves.
logging.getLogger("bibtexparser").setLevel(logging.ERROR)

PAPER_TYPES = {
    "article",
    "inproceedings",
    "conference",
    "incollection",
    "techreport",
    "phdthesis",
    "mastersthesis",
    "proceedings",
    "report",
    "thesis",
}
BOOK_TYPES = {"book", "inbook", "mvbook", "booklet"}
KINDS = {k.value for k in SourceKind}
VENUE_FIELDS = (
    "journal",
    "journaltitle",
    "booktitle",
    "eventtitle",
    "school",
    "institution",
    "howpublished",
    "publisher",
)


# Identifiers are read as written: LaTeX decoding would take "%" in a URL for a comment.
RAW_FIELDS = {"url", "doi", "eprint", "file", "archiveprefix", "eprinttype"}
_DECODER = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)


# Text without any of these decodes to itself (checked against the decoder over random
# text): most titles, names and venues skip the decoder, which costs ~0.5 ms a field.
_LATEX_SPECIAL = re.compile(r"[\\{}$%~^_&#`\u02c6]|--|''|<<|>>|!`|\?`")


def _tex_to_text(value: str) -> str:
    if not _LATEX_SPECIAL.search(value):
        return " ".join(value.split())
    text = _DECODER.latex_to_text(value).replace("\u02c6", "^")  # the decoder's circumflex
    return " ".join(text.split())


def _value(entry: Entry, name: str) -> str | None:
    f = entry.fields_dict.get(name)  # keys are lower-cased by NormalizeFieldKeys
    if f is None:
        return None
    value = str(f.value)
    if name in RAW_FIELDS:
        return " ".join(value.replace("{", "").replace("}", "").split()) or None
    return _tex_to_text(value) or None


def _authors(entry: Entry) -> tuple[list[dict[str, str | None]], bool]:
    field = entry.fields_dict.get("author")
    if field is None or not isinstance(field.value, list):
        return [], False
    authors, et_al = [], False
    for name in field.value:
        family = _tex_to_text(" ".join([*name.von, *name.last]))
        given = _tex_to_text(" ".join([*name.first, *name.jr]))
        if family.lower() in ("others", "al.") or (given.lower(), family.lower()) == ("et", "al."):
            et_al = True
            continue
        if family:
            authors.append({"given": given or None, "family": family})
    return authors, et_al


def _kind(entry_type: str, arxiv: str | None, venue: str | None, url: str | None) -> str:
    t = entry_type.lower()
    if t in BOOK_TYPES:
        return "book"
    if arxiv and (t not in PAPER_TYPES or (venue and "arxiv" in venue.lower())):
        return "preprint"
    if t in PAPER_TYPES:
        return "paper"
    if t in ("online", "electronic", "www"):
        return "web_page"
    return "paper" if venue or not url else "web_page"


def _item(entry: Entry) -> dict[str, Any]:
    decoded: dict[str, str | None] = {}

    def get(name: str) -> str | None:  # each field decoded once
        if name not in decoded:
            decoded[name] = _value(entry, name)
        return decoded[name]

    all_text = [get(k) for k in ("doi", "url", "note", "howpublished", "journal", "eprint")]
    arxiv = None
    eprint_type = (get("archiveprefix") or get("eprinttype") or "").lower()
    if get("eprint") and (
        eprint_type == "arxiv" or re.match(r"^\d{4}\.\d{4,5}", get("eprint") or "")
    ):
        arxiv = get("eprint")
    arxiv = arxiv or find_arxiv(*all_text)
    doi = find_doi(get("doi")) or find_doi(*all_text[1:])
    venue = next((get(k) for k in VENUE_FIELDS if get(k)), None)
    url = get("url")
    authors, et_al = _authors(entry)
    date = get("date") or date_text(get("year"), get("month"), None)
    keywords = [k.strip().lower() for k in re.split(r"[;,]", get("keywords") or "") if k.strip()]
    kind = get("type") if get("type") in KINDS else _kind(entry.entry_type, arxiv, venue, url)
    item: dict[str, Any] = {
        "citekey": entry.key,
        "kind": kind,
        "title": get("title") or "",
        "authors": authors,
        "et_al": et_al,
        "date": date,
        "venue": venue,
        "doi": doi,
        "arxiv": arxiv,
        "url": url,
        "abstract": get("abstract"),
        "tags": keywords,
    }
    return {k: v for k, v in item.items() if v not in (None, [], "")} | {"title": item["title"]}


def _line(start: int | None) -> int | None:
    return None if start is None else start + 1  # bibtexparser counts from 0


def parse(text: str) -> Parsed:
    library = bibtexparser.parse_string(
        text,
        append_middleware=[
            mw.NormalizeFieldKeys(),  # "Author", "TITLE" -> "author", "title"
            mw.MonthIntMiddleware(True),
            mw.SeparateCoAuthors(),
            mw.SplitNameParts(),
        ],
    )
    parsed = Parsed()
    for entry in library.entries:
        parsed.add(_item(entry), _line(entry.start_line))
    for block in library.failed_blocks:
        cause = getattr(block, "error", None)
        reason = getattr(cause, "abort_reason", None) or str(cause or "") or "unreadable entry"
        error = " ".join(f"could not read this entry: {reason}".split())
        parsed.errors.append(
            {"line": _line(block.start_line), "message": error, "text": (block.raw or "")[:200]}
        )
    return parsed


def _key(source: dict[str, Any], used: set[str]) -> str:
    if source.get("citekey") and source["citekey"] not in used:
        return str(source["citekey"])
    family = source["authors"][0]["family"] if source.get("authors") else "anon"
    word = next((w for w in re.findall(r"[A-Za-z]+", source["title"]) if len(w) > 3), "work")
    base = re.sub(r"\W", "", f"{family}{source.get('year') or ''}{word}").lower() or "source"
    key, n = base, 2
    while key in used:
        key, n = f"{base}{n}", n + 1
    return key


_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# Letter pairs that LaTeX turns into other characters (dashes, quotes): keep them apart.
_LIGATURES = ("--", "``", "''", "!`", "?`")


def _tex(text: str) -> str:
    """Escape what LaTeX would read as markup; Unicode stays Unicode (files are UTF-8).
    Reading the result back with the LaTeX decoder gives `text` again."""
    out = "".join(_SPECIAL.get(c, c) for c in text)
    for pair in _LIGATURES:
        while pair in out:
            out = out.replace(pair, pair[0] + "{}" + pair[1])
    return out


def dump(sources: list[dict[str, Any]]) -> str:
    """Public source dicts -> BibTeX text (fields that reimport to the same record)."""
    library = bibtexparser.Library()
    used: set[str] = set()
    for s in sources:
        key = _key(s, used)
        used.add(key)
        kind = s["kind"]
        entry_type = {"book": "book", "preprint": "misc", "paper": "article"}.get(kind, "misc")
        fields = [Field("title", _tex(s["title"]))]
        if s.get("authors"):
            names = [
                _tex(f"{a['family']}, {a['given']}" if a.get("given") else a["family"])
                for a in s["authors"]
            ]
            if s.get("et_al"):
                names.append("others")
            fields.append(Field("author", " and ".join(names)))
        if s.get("date"):
            fields.append(Field("date", s["date"]))
            fields.append(Field("year", s["date"][:4]))
        if s.get("venue"):
            venue_field = "journal" if entry_type == "article" else "howpublished"
            fields.append(Field(venue_field, _tex(s["venue"])))
        if s.get("doi"):
            fields.append(Field("doi", s["doi"]))
        if s.get("arxiv"):
            fields += [Field("eprint", s["arxiv"]), Field("archiveprefix", "arXiv")]
        if s.get("url"):
            fields.append(Field("url", s["url"]))
        if s.get("abstract"):
            fields.append(Field("abstract", _tex(s["abstract"])))
        if s.get("tags"):
            fields.append(Field("keywords", _tex(", ".join(s["tags"]))))
        if kind not in ("book", "preprint", "paper"):
            fields.append(Field("type", kind))
        library.add(Entry(entry_type, key, fields))
    return bibtexparser.write_string(library)
