"""Types shared by several entities: enums, partial dates, authors, pages, slugs."""

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from sqlalchemy import Enum as SAEnum

MIN_YEAR, MAX_YEAR = 1600, 2100


def db_enum(enum_cls: type[StrEnum], name: str) -> SAEnum:
    """A portable enum column: VARCHAR plus a CHECK constraint (no native PG type)."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class DatePrecision(StrEnum):
    day = "day"
    month = "month"
    year = "year"


class SourceKind(StrEnum):
    paper = "paper"
    preprint = "preprint"
    blog_post = "blog_post"
    talk = "talk"
    podcast = "podcast"
    forum_post = "forum_post"
    survey = "survey"
    book = "book"
    web_page = "web_page"


class ActorKind(StrEnum):
    person = "person"
    group = "group"
    lab = "lab"
    organization = "organization"
    community = "community"


class ClaimKind(StrEnum):
    empirical = "empirical"
    theoretical = "theoretical"
    position = "position"


class ClaimStatus(StrEnum):
    open = "open"
    supported = "supported"
    contested = "contested"
    refuted = "refuted"


class EvidenceRelation(StrEnum):
    supports = "supports"
    contests = "contests"
    refines = "refines"
    extends = "extends"
    replicates = "replicates"
    fails_to_replicate = "fails_to_replicate"


class EvolutionKind(StrEnum):
    new = "new"
    consistent = "consistent"
    shifted = "shifted"
    corrected = "corrected"


class TensionStatus(StrEnum):
    open = "open"
    narrowing = "narrowing"
    resolved = "resolved"
    reopened = "reopened"


class FacetStatus(StrEnum):
    known = "known"
    partial = "partial"
    unknown = "unknown"


# ---------------------------------------------------------------- partial dates

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_partial_date(value: Any) -> tuple[date, DatePrecision]:
    """'2019' -> (2019-01-01, year); '2019-06' -> month; '2019-06-01' -> day; ints are years."""
    if isinstance(value, bool):
        raise ValueError("a date must be a year, 'YYYY-MM' or 'YYYY-MM-DD'")
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value, DatePrecision.day
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("a date must be a year, 'YYYY-MM' or 'YYYY-MM-DD'")
    m = _DATE_RE.match(value.strip())
    if not m:
        raise ValueError(f"'{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(m.group(1))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} is out of range ({MIN_YEAR}–{MAX_YEAR})")
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    try:
        if day is not None:
            return date(year, month or 1, day), DatePrecision.day
        if month is not None:
            return date(year, month, 1), DatePrecision.month
        return date(year, 1, 1), DatePrecision.year
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid calendar date") from exc


def format_partial_date(value: date | None, precision: DatePrecision | str | None) -> str | None:
    if value is None:
        return None
    p = DatePrecision(precision or DatePrecision.day)
    if p is DatePrecision.year:
        return f"{value.year:04d}"
    if p is DatePrecision.month:
        return f"{value.year:04d}-{value.month:02d}"
    return value.isoformat()


def _check_partial_date(value: Any) -> Any:
    if value is None:
        return None
    parse_partial_date(value)
    return str(value) if isinstance(value, int) else value


PartialDate = Annotated[
    str | int | date,
    BeforeValidator(_check_partial_date),
    Field(
        description="A date with its precision: 2019, '2019-06' or '2019-06-01'.",
        examples=["2019-06"],
    ),
]

PartialDateIn = Annotated[
    str | int | date | None,
    BeforeValidator(_check_partial_date),
    Field(
        description="A date with its precision: 2019, '2019-06' or '2019-06-01'.",
        examples=["2019-06"],
    ),
]

Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
Id = Annotated[int, Field(ge=1, le=MAX_ID, description="A row id.")]


def _not_all_digits(value: str) -> str:
    # A slug made only of digits would be read as an id in URLs.
    if value.replace("-", "").isdigit():
        raise ValueError("a slug needs at least one letter (digits alone read as an id)")
    return value


Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=120),
    AfterValidator(_not_all_digits),
    Field(description="Lowercase words joined by hyphens.", examples=["memorization-necessity"]),
]

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def slugify(text: str, max_length: int = 80) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-") or "item"
    return f"n-{slug}" if slug.replace("-", "").isdigit() else slug


# ---------------------------------------------------------------- authors


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")
    given: str | None = Field(None, max_length=200, examples=["Vitaly"])
    family: str = Field(..., min_length=1, max_length=200, examples=["Feldman"])

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}" if self.given else self.family


def parse_author(value: Any) -> Author:
    """'Vitaly Feldman', 'Feldman, Vitaly' or {'given', 'family'} -> Author."""
    if isinstance(value, Author):
        return value
    if isinstance(value, dict):
        return Author.model_validate(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("an author is a name string or an object with 'family' (and 'given')")
    name = " ".join(value.split())
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
        return Author(given=given or None, family=family)
    parts = name.rsplit(" ", 1)
    if len(parts) == 1:
        return Author(family=parts[0])
    return Author(given=parts[0], family=parts[1])


def _parse_authors(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("authors must be a list")
    if len(value) > 5000:
        raise ValueError("at most 5000 authors (use et_al for the rest)")
    return [parse_author(v) for v in value]


AuthorList = Annotated[
    list[Author],
    BeforeValidator(_parse_authors),
    Field(
        description="Ordered authors: strings ('Vitaly Feldman', 'Feldman, Vitaly') "
        "or {given, family} objects.",
        examples=[["Vitaly Feldman", {"given": "Chiyuan", "family": "Zhang"}]],
    ),
]


# ---------------------------------------------------------------- API helpers

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(..., description="Number of rows matching the filters.")
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Offset of the next page, if any.")


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _as_utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes; every stored time is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTCDateTime = Annotated[datetime, AfterValidator(_as_utc)]


def _plausible_instant(value: datetime) -> datetime:
    # Check the year before converting: shifting year 1 or 9999 to UTC can overflow.
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is out of range ({MIN_YEAR}–{MAX_YEAR})")
    return _as_utc(value)


# An instant given by a client: converted to UTC, within the years the service accepts.
InstantIn = Annotated[datetime, AfterValidator(_plausible_instant)]


class Timestamps(ORMModel):
    id: int
    created_at: UTCDateTime
    updated_at: UTCDateTime

    @classmethod
    def from_row(cls, row: Any) -> Any:
        return cls.model_validate(row)


class CreateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpdateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
