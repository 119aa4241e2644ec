"""What makes two sources the same: cleaned and normalised titles, hosts, truncation.

Real listings carry noise around a title: "[PDF] ", an arXiv id in brackets, a venue badge
("NeurIPS Poster "), a site name ("… | OpenReview", "… — LessWrong"), a cut-off end ("…"),
PDF hyphenation ("GENER- ALIZATION"), LaTeX ("{\\\"o}"). `clean_title` separates the title
from that noise; `normalize_title` reduces it to a comparison key.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_PDF = re.compile(r"^\s*\[(?:pdf|html)\]\s*", re.I)
_ARXIV_PREFIX = re.compile(r"^\s*\[(\d{4}\.\d{4,5}(?:v\d{1,4})?)\]\s*")
_VENUE_BADGE = re.compile(
    r"^\s*(?:NeurIPS|NIPS|ICLR|ICML|COLT|AAAI|IJCAI|CVPR|ICCV|ECCV|ACL|EMNLP|AISTATS|UAI)"
    r"\s+(?:Poster|Oral|Spotlight|Workshop)\s+",
    re.I,
)
# Sites that appear as a suffix of listed titles, and whether they host posts (where a
# title names one post) rather than papers (where one title can be several submissions).
SITES = {
    "openreview": False,
    "acm digital library": False,
    "arxiv": False,
    "youtube": False,
    "lesswrong": True,
    "ai alignment forum": True,
    "alignment forum": True,
    "medium": True,
    "substack": True,
    "imbue": False,
}
_SUFFIX = re.compile(r"\s+[-|—–]\s+([^-|—–]{2,40})$")
_TRUNCATED = re.compile(r"\s*(?:\.\.\.|…)\s*$")
_PDF_HYPHEN = re.compile(r"(\w)- (\w)")
_LATEX_CMD = re.compile(r"\\[a-zA-Z]+\s*|\\.")
_NOT_WORD = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class CleanTitle:
    title: str
    site: str | None  # a site named in the title ("lesswrong"), if any
    arxiv: str | None  # an arXiv id written in the title, if any
    truncated: bool


@lru_cache(maxsize=1024)  # a source's title is cleaned on validation, then for its keys
def clean_title(raw: str) -> CleanTitle:
    text = " ".join(raw.split())
    arxiv = None
    text = _PDF.sub("", text)
    m = _ARXIV_PREFIX.match(text)
    if m:
        arxiv, text = m.group(1), text[m.end() :]
    text = _VENUE_BADGE.sub("", text)
    site = None
    m = _SUFFIX.search(text)
    if m and m.group(1).strip().lower() in SITES:
        site, text = m.group(1).strip().lower(), text[: m.start()]
    truncated = bool(_TRUNCATED.search(text))
    text = _TRUNCATED.sub("", text).strip()
    return CleanTitle(title=text, site=site, arxiv=arxiv, truncated=truncated)


def normalize_title(title: str) -> str:
    """A comparison key: no LaTeX, accents, case, punctuation or PDF hyphenation."""
    text = _PDF_HYPHEN.sub(r"\1\2", title)
    text = _LATEX_CMD.sub("", text).replace("{", "").replace("}", "")
    if text.isascii():  # nothing to decompose, no accents; casefold is lower
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _NOT_WORD.sub(" ", text)
    return " ".join(text.split())


def site_of(host: str | None) -> str | None:
    """'Alignment Forum (2026-04-27)' -> 'alignment forum'; unknown hosts -> None."""
    if not host:
        return None
    name = re.sub(r"\s*\(.*\)\s*$", "", host).strip().lower()
    return name if name in SITES else None


def hosts_posts(site: str | None) -> bool:
    return bool(site and SITES.get(site))


def same_site(a: str | None, b: str | None) -> bool:
    alias = {"ai alignment forum": "alignment forum"}
    return a is not None and alias.get(a, a) == alias.get(b or "", b)


MIN_PREFIX_WORDS = 4


def titles_match(a: str, a_truncated: bool, b: str, b_truncated: bool) -> bool:
    """Equal normalised titles, or one cut-off title that starts the other (4+ words)."""
    if a == b:
        return True
    for short, short_cut, long in ((a, a_truncated, b), (b, b_truncated, a)):
        if short_cut and len(short.split()) >= MIN_PREFIX_WORDS and long.startswith(short):
            return True
    return False


def identity_keys(
    title: str, raw_title: str | None, host: str | None
) -> tuple[str, bool, str | None]:
    """(normalised title, truncated?, site) of a source, from what it was listed as."""
    own = clean_title(title)
    listed = own if not raw_title or raw_title == title else clean_title(raw_title)
    key = normalize_title(own.title)
    return key, listed.truncated or own.truncated, listed.site or site_of(host)
