"""What every bibliographic format shares: finding DOIs and arXiv ids anywhere, decoding
files, and the record shape the formats read into and write from."""

import re
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import InvalidInput

DOI_ANYWHERE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}]+)", re.I)
ARXIV_ANYWHERE = re.compile(
    r"(?:arxiv(?:\.org/(?:abs|pdf)/|:\s*|\s+preprint\s+arxiv:\s*)|eprint\s*)"
    r"(\d{4}\.\d{4,5}(?:v\d{1,4})?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d{1,4})?)",
    re.I,
)


def find_doi(*texts: str | None) -> str | None:
    for text in texts:
        if text:
            m = DOI_ANYWHERE.search(text)
            if m:
                return m.group(1).rstrip(".,;)")
    return None


def find_arxiv(*texts: str | None) -> str | None:
    for text in texts:
        if text:
            m = ARXIV_ANYWHERE.search(text)
            if m:
                return m.group(1)
    return None


@dataclass
class Parsed:
    """Items ready for SourceCreate, and entries that could not be read."""

    items: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)  # where each item starts
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: dict[str, Any], line: int | None) -> None:
        self.items.append(item)
        self.lines.append(line)


def decode(data: bytes, encoding: str = "utf-8") -> str:
    """File bytes -> text; a file in another encoding is refused with where it breaks."""
    if not data.strip():
        raise InvalidInput("file: the file is empty", field="file")
    try:
        text = data.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except LookupError:
        raise InvalidInput(
            f"encoding: unknown encoding '{encoding}'", field="query.encoding"
        ) from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"file: not valid {encoding} (byte 0x{data[exc.start]:02x} on line {line}); "
            "convert the file to UTF-8 or name its encoding with ?encoding=latin-1",
            field="file",
        ) from None
    # Control characters (a stray NUL, say) cannot be stored; real files do contain them.
    return _CONTROL_CHARS.sub(" ", text)


_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def date_text(year: Any, month: Any = None, day: Any = None) -> str | None:
    """Year/month/day pieces -> '2019', '2019-06' or '2019-06-01' (None when no year)."""
    try:
        y = int(str(year).strip()[:4]) if year not in (None, "") else None
    except ValueError:
        return None
    if y is None:
        return None
    try:
        m = int(month)
    except (TypeError, ValueError):
        return f"{y:04d}"
    if not 1 <= m <= 12:  # seasons (21-24) and nonsense: keep the year
        return f"{y:04d}"
    try:
        d = int(day)
    except (TypeError, ValueError):
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"
