"""Normalising identifiers: DOIs, arXiv ids (with version), OpenReview ids, URLs."""

import re
from urllib.parse import parse_qs, urlparse

DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)
_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d{1,4}))?$")
_ARXIV_OLD = re.compile(r"^([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d{1,4}))?$", re.I)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf|html)/([^?#\s]+?)(?:\.pdf)?/?(?:[?#].*)?$", re.I)
_OPENREVIEW_ID = re.compile(r"^[A-Za-z0-9_\-]{5,40}$")


def normalize_doi(value: str) -> str:
    """'https://doi.org/10.1145/ABC' -> '10.1145/abc' (DOIs are case-insensitive)."""
    doi = _DOI_PREFIX.sub("", value.strip()).strip()
    if not DOI_RE.match(doi) or len(doi) > 300:
        raise ValueError(f"'{value}' is not a DOI (expected 10.<registrant>/<suffix>)")
    return doi.lower()


def parse_arxiv(value: str) -> tuple[str, int | None]:
    """'arXiv:1902.04742v2' or an arxiv.org URL -> ('1902.04742', 2)."""
    text = value.strip()
    m = _ARXIV_URL.search(text)
    if m:
        text = m.group(1)
    text = re.sub(r"^arxiv:\s*", "", text, flags=re.I)
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        m = pattern.match(text)
        if m:
            version = int(m.group(2)) if m.group(2) else None
            if version == 0:
                raise ValueError(f"'{value}': arXiv versions start at v1")
            if pattern is _ARXIV_NEW:
                month = int(m.group(1)[2:4])
                if not 1 <= month <= 12:
                    raise ValueError(f"'{value}' is not an arXiv id (month {month:02d})")
                return m.group(1), version
            # Old-style ids name an archive ("hep-th/9901001"): archives are lower case.
            return m.group(1).lower(), version
    raise ValueError(f"'{value}' is not an arXiv id (expected e.g. 1902.04742 or 1902.04742v2)")


def format_arxiv(arxiv_id: str | None, version: int | None) -> str | None:
    if not arxiv_id:
        return None
    return f"{arxiv_id}v{version}" if version else arxiv_id


def normalize_openreview(value: str) -> str:
    text = value.strip()
    if "openreview.net" in text:
        query = parse_qs(urlparse(text).query)
        ids = query.get("id")
        if not ids:
            raise ValueError(f"'{value}' is an OpenReview URL without an id parameter")
        text = ids[0]
    if not _OPENREVIEW_ID.match(text):
        raise ValueError(f"'{value}' is not an OpenReview id")
    return text


def normalize_url(value: str) -> str:
    text = value.strip()
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL")
    # Scheme and host are case-insensitive; a trailing slash does not make a new page.
    path = parsed.path.rstrip("/")
    rebuilt = f"{parsed.scheme.lower()}://{parsed.netloc.lower()}{path}"
    if parsed.query:
        rebuilt += f"?{parsed.query}"
    return rebuilt


def doi_or_none(value: str | None) -> str | None:
    return normalize_doi(value) if value else None


def arxiv_or_none(value: str | None) -> str | None:
    """Any accepted arXiv form -> '1902.04742v2' (or without version); empty -> None."""
    return format_arxiv(*parse_arxiv(value)) if value else None
