"""Source (anything citable), Work (copies of one work) and SourceRevision (corrections)."""

from datetime import date as Date
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Timestamped, utcnow
from app.models.common import (
    Author,
    AuthorList,
    CreateModel,
    DatePrecision,
    Id,
    ORMModel,
    PartialDateIn,
    ShortText,
    Slug,
    SourceKind,
    Timestamps,
    UpdateModel,
    UTCDateTime,
    Year,
    db_enum,
    format_partial_date,
)
from app.services import identifiers, identity


class Work(Timestamped, Base):
    """Groups copies of one work (arXiv versions, preprint and published paper, mirrors)."""

    __node_type__ = "work"
    __tablename__ = "works"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str | None] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(1000))
    note: Mapped[str | None] = mapped_column(Text)

    sources: Mapped[list["Source"]] = relationship(back_populates="work", order_by="Source.id")

    @property
    def source_ids(self) -> list[int]:
        return [s.id for s in self.sources]


class Source(Timestamped, Base):
    __node_type__ = "source"
    __tablename__ = "sources"
    __table_args__ = (
        # An arXiv id is unique per version; an unversioned listing counts as version 0.
        Index("uq_sources_arxiv", "arxiv_id", text("coalesce(arxiv_version, 0)"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    citekey: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[SourceKind] = mapped_column(db_enum(SourceKind, "source_kind"), index=True)
    title: Mapped[str] = mapped_column(String(1000))
    raw_title: Mapped[str | None] = mapped_column(String(1000))
    # Identity keys (see app/services/identity.py), kept in step with title/raw_title/host.
    title_key: Mapped[str] = mapped_column(String(1000), index=True, default="")
    title_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    site: Mapped[str | None] = mapped_column(String(50))
    authors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    et_al: Mapped[bool] = mapped_column(Boolean, default=False)
    date: Mapped[Date | None] = mapped_column(index=True)
    date_precision: Mapped[DatePrecision | None] = mapped_column(
        db_enum(DatePrecision, "date_precision")
    )
    venue: Mapped[str | None] = mapped_column(String(500))
    doi: Mapped[str | None] = mapped_column(String(300), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(50))
    arxiv_version: Mapped[int | None] = mapped_column(Integer)
    openreview_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    url: Mapped[str | None] = mapped_column(String(2000), unique=True)
    host: Mapped[str | None] = mapped_column(String(300))
    abstract: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    work: Mapped[Work] = relationship(back_populates="sources")
    tag_rows: Mapped[list["SourceTag"]] = relationship(
        order_by="SourceTag.tag", cascade="all, delete-orphan", passive_deletes=True
    )
    revisions: Mapped[list["SourceRevision"]] = relationship(
        order_by="SourceRevision.id", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def tags(self) -> list[str]:
        return [t.tag for t in self.tag_rows]

    @property
    def arxiv(self) -> str | None:
        return identifiers.format_arxiv(self.arxiv_id, self.arxiv_version)

    @property
    def date_display(self) -> str | None:
        return format_partial_date(self.date, self.date_precision)

    @property
    def year(self) -> int | None:
        return self.date.year if self.date else None


class SourceTag(Base):
    __tablename__ = "source_tags"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class SourceRevision(Base):
    """A dated correction of one field of a source, with the reason."""

    __tablename__ = "source_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---------------------------------------------------------------- API schemas

SOURCE_EXAMPLE: dict[str, Any] = {
    "kind": "preprint",
    "title": "Uniform convergence may be unable to explain generalization in deep learning",
    "authors": ["Vaishnavh Nagarajan", "Kolter, J. Zico"],
    "date": "2019-02",
    "arxiv": "1902.04742v2",
    "tags": ["uniform-convergence"],
}


class _SourceFields(CreateModel):
    citekey: str | None = Field(None, min_length=1, max_length=200, examples=["feldman2020"])
    raw_title: str | None = Field(None, max_length=1000, description="The title as listed.")
    authors: AuthorList = Field(default_factory=list)
    et_al: bool = Field(False, description="True when the author list is truncated ('et al.').")
    date: PartialDateIn = None
    year: Year | None = Field(None, description="Shorthand for a year-precision date.")
    venue: str | None = Field(None, max_length=500, examples=["NeurIPS 2025"])
    doi: str | None = Field(
        None, description="Bare DOI or doi.org URL.", examples=["10.1145/3446776"]
    )
    arxiv: str | None = Field(
        None, description="arXiv id, with optional version, or URL.", examples=["1906.05271v3"]
    )
    openreview_id: str | None = Field(None, description="OpenReview id or forum URL.")
    url: str | None = Field(None, max_length=2000, examples=["https://example.org/post"])
    host: str | None = Field(
        None, max_length=300, description="Where the copy is hosted or listed."
    )
    abstract: str | None = Field(None, max_length=100_000)
    tags: list[str] = Field(default_factory=list, max_length=200)
    note: str | None = Field(None, max_length=20_000)

    _doi = field_validator("doi")(lambda v: identifiers.doi_or_none(v))
    _arxiv = field_validator("arxiv")(lambda v: identifiers.arxiv_or_none(v))

    @field_validator("openreview_id")
    @classmethod
    def _openreview(cls, v: str | None) -> str | None:
        return identifiers.normalize_openreview(v) if v else None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return identifiers.normalize_url(v) if v else None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        if v is None:  # SourceUpdate: `"tags": null`
            return None
        cleaned = sorted({t.strip().lower() for t in v if t and t.strip()})
        if any(len(t) > 100 for t in cleaned):
            raise ValueError("a tag is at most 100 characters")
        return cleaned

    @model_validator(mode="after")
    def _date_or_year(self) -> Any:
        if self.date is not None and self.year is not None:
            raise ValueError("give either 'date' or 'year', not both")
        return self


class SourceCreate(_SourceFields):
    """A title as listed ("[PDF] …", "NeurIPS Poster …", "… | OpenReview", "[1902.04742] …",
    "… …") is cleaned; the listed form is kept as raw_title and an arXiv id in it is used."""

    model_config = ConfigDict(json_schema_extra={"examples": [SOURCE_EXAMPLE]})
    kind: SourceKind = SourceKind.paper
    title: ShortText
    work_id: Id | None = Field(None, description="Join an existing work; default: a new work.")

    @model_validator(mode="after")
    def _clean_listed_title(self) -> "SourceCreate":
        cleaned = identity.clean_title(self.title)
        if cleaned.title and cleaned.title != self.title:
            if self.raw_title is None:
                self.raw_title = self.title
            self.title = cleaned.title
        if cleaned.arxiv and self.arxiv is None:
            self.arxiv = cleaned.arxiv
        return self


class SourceUpdate(_SourceFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "venue": "NeurIPS 2025 (oral)",
                    "change_reason": "Listed as a poster; the conference page says oral.",
                }
            ]
        }
    )
    kind: SourceKind | None = None
    title: ShortText | None = None
    work_id: Id | None = None
    authors: AuthorList | None = None  # type: ignore[assignment]
    tags: list[str] | None = None  # type: ignore[assignment]
    et_al: bool | None = None  # type: ignore[assignment]
    change_reason: str | None = Field(None, description="Why the record changed (kept in history).")
    changed_by: str | None = Field(None, max_length=200, description="Curator making the change.")


class SourcePublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"id": 16, "work_id": 9, **SOURCE_EXAMPLE}]},
    )
    work_id: Id
    citekey: str | None
    kind: SourceKind
    title: str
    raw_title: str | None
    authors: list[Author]
    et_al: bool
    date: str | None = Field(None, validation_alias="date_display")
    date_precision: DatePrecision | None
    year: int | None
    venue: str | None
    doi: str | None
    arxiv: str | None
    arxiv_id: str | None
    arxiv_version: int | None
    openreview_id: str | None
    url: str | None
    host: str | None
    abstract: str | None
    tags: list[str]
    note: str | None


class SourceRevisionPublic(ORMModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "field": "venue",
                    "old_value": "NeurIPS 2025 (poster)",
                    "new_value": "NeurIPS 2025 (oral)",
                    "reason": "conference page says oral",
                    "changed_by": "curator",
                    "changed_at": "2026-04-30T00:00:00Z",
                }
            ]
        },
    )
    id: int
    field: str
    old_value: Any
    new_value: Any
    reason: str | None
    changed_by: str | None
    changed_at: UTCDateTime


class WorkCreate(CreateModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Does learning require memorization?"}]}
    )
    slug: Slug | None = None
    title: ShortText
    note: str | None = None


class WorkUpdate(UpdateModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "Grouped by hand."}]})
    slug: Slug | None = None
    title: ShortText | None = None
    note: str | None = None


class WorkPublic(Timestamps):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": 9, "title": "Uniform convergence …", "source_ids": [16, 17]}]
        },
    )
    slug: str | None
    title: str
    note: str | None
    source_ids: list[Id]


class WorkDistinction(Base):
    """Two works a curator declared distinct: never suggested as copies again."""

    __tablename__ = "work_distinctions"
    __table_args__ = (UniqueConstraint("work_a", "work_b"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_a: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    work_b: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
