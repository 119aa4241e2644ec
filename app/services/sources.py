"""Sources and works: identity checks, corrections history, tags."""

from datetime import date
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import DuplicateIdentifier
from app.models import Source, SourceRevision, SourceTag, ThreadItem, Work
from app.models.common import MAX_ID, MAX_YEAR, MIN_YEAR, Id, SourceKind, parse_partial_date
from app.models.source import (
    SourceCreate,
    SourcePublic,
    SourceUpdate,
    WorkCreate,
    WorkPublic,
    WorkUpdate,
)
from app.services import identifiers, identity
from app.services.crud import Resource
from app.services.dependents import find_dependents
from app.services.refs import assign, contains, ensure_unique, require_id
from app.services.source_reader import source_json

IDENTITY_FIELDS = ("doi", "openreview_id", "url", "citekey")


class SourceFilters(BaseModel):
    kind: SourceKind | None = None
    work_id: Id | None = None
    thread_id: Id | None = Field(None, description="Sources that are items of this thread.")
    tag: list[str] = Field(
        default_factory=list, description="Sources with every one of these tags (repeatable)."
    )
    year_from: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    year_to: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    doi: str | None = Field(None, description="Exact DOI (any form).")
    arxiv: str | None = Field(None, description="arXiv id; without a version matches all.")
    citekey: str | None = Field(None, max_length=200, description="Exact citation key.")
    q: str | None = Field(None, max_length=200, description="Substring of the title.")

    _doi = field_validator("doi")(lambda v: identifiers.doi_or_none(v))
    _arxiv = field_validator("arxiv")(lambda v: identifiers.arxiv_or_none(v))


def _filters(stmt: Select, f: SourceFilters) -> Select:
    if f.kind:
        stmt = stmt.where(Source.kind == f.kind)
    if f.work_id is not None:
        stmt = stmt.where(Source.work_id == f.work_id)
    if f.thread_id is not None:
        stmt = stmt.where(
            Source.id.in_(select(ThreadItem.source_id).where(ThreadItem.thread_id == f.thread_id))
        )
    for tag in f.tag:
        stmt = stmt.where(
            Source.id.in_(select(SourceTag.source_id).where(SourceTag.tag == tag.strip().lower()))
        )
    if f.year_from is not None:
        stmt = stmt.where(Source.date >= date(f.year_from, 1, 1))
    if f.year_to is not None:
        stmt = stmt.where(Source.date <= date(f.year_to, 12, 31))
    if f.doi:
        stmt = stmt.where(Source.doi == f.doi)
    if f.arxiv:
        arxiv_id, version = identifiers.parse_arxiv(f.arxiv)
        stmt = stmt.where(Source.arxiv_id == arxiv_id)
        if version:
            stmt = stmt.where(Source.arxiv_version == version)
    if f.citekey:
        stmt = stmt.where(Source.citekey == f.citekey)
    if f.q:
        stmt = stmt.where(contains(Source.title, f.q))
    return stmt


# Validation parsed each date once already; a bulk intake repeats few distinct dates.
_parse_date = lru_cache(maxsize=4096, typed=True)(parse_partial_date)


def _date_fields(data: SourceCreate | SourceUpdate) -> dict[str, Any]:
    if data.year is not None:
        value, precision = _parse_date(data.year)
        return {"date": value, "date_precision": precision}
    if data.date is not None:
        value, precision = _parse_date(data.date)
        return {"date": value, "date_precision": precision}
    return {"date": None, "date_precision": None}


def _arxiv_fields(arxiv: str | None) -> dict[str, Any]:
    if not arxiv:
        return {"arxiv_id": None, "arxiv_version": None}
    arxiv_id, version = identifiers.parse_arxiv(arxiv)
    return {"arxiv_id": arxiv_id, "arxiv_version": version}


def _check_arxiv_free(
    session: Session, arxiv_id: str | None, version: int | None, own: int | None
) -> None:
    if not arxiv_id:
        return
    stmt = select(Source.id).where(
        Source.arxiv_id == arxiv_id, func.coalesce(Source.arxiv_version, 0) == (version or 0)
    )
    if own is not None:
        stmt = stmt.where(Source.id != own)
    existing = session.scalar(stmt)
    if existing is not None:
        raise DuplicateIdentifier(
            f"arXiv {identifiers.format_arxiv(arxiv_id, version)} already belongs to "
            f"source {existing}",
            field="arxiv",
            existing_id=existing,
        )


def set_tags(session: Session, source: Source, tags: list[str]) -> None:
    source.tag_rows.clear()
    session.flush()
    source.tag_rows.extend(SourceTag(tag=t) for t in tags)


def source_columns(data: SourceCreate) -> dict[str, Any]:
    """Column values of a validated source (everything but its work and tags)."""
    fields = data.model_dump(exclude={"date", "year", "arxiv", "tags", "work_id", "authors"})
    return {
        **fields,
        **_arxiv_fields(data.arxiv),
        **_date_fields(data),
        **_identity_columns(data.title, data.raw_title, data.host),
        "authors": [a.model_dump() for a in data.authors],
    }


def _identity_columns(title: str, raw_title: str | None, host: str | None) -> dict[str, Any]:
    key, truncated, site = identity.identity_keys(title, raw_title, host)
    return {"title_key": key, "title_truncated": truncated, "site": site}


def create_source(session: Session, data: SourceCreate) -> Source:
    arxiv = _arxiv_fields(data.arxiv)
    ensure_unique(session, Source, data.model_dump(include=set(IDENTITY_FIELDS)), None)
    _check_arxiv_free(session, arxiv["arxiv_id"], arxiv["arxiv_version"], None)
    if data.work_id is not None:
        require_id(session, Work, data.work_id, "work_id")
        work_id = data.work_id
    else:
        work = Work(title=data.title)
        session.add(work)
        session.flush()
        work_id = work.id
    source = Source(**source_columns(data), work_id=work_id)
    session.add(source)
    session.flush()
    set_tags(session, source, data.tags)
    return source


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def update_source(session: Session, source: Source, data: SourceUpdate) -> Source:
    sent = data.model_fields_set
    ensure_unique(session, Source, data.model_dump(include=set(IDENTITY_FIELDS) & sent), source.id)
    before: dict[str, Any] = {}
    if "arxiv" in sent:
        arxiv = _arxiv_fields(data.arxiv)
        _check_arxiv_free(session, arxiv["arxiv_id"], arxiv["arxiv_version"], source.id)
        before["arxiv"] = source.arxiv
        source.arxiv_id, source.arxiv_version = arxiv["arxiv_id"], arxiv["arxiv_version"]
    if sent & {"date", "year"}:
        before["date"] = source.date_display
        for key, value in _date_fields(data).items():
            setattr(source, key, value)
    if "authors" in sent:
        before["authors"] = source.authors
        source.authors = [a.model_dump() for a in data.authors or []]
    if "tags" in sent:
        before["tags"] = source.tags
        set_tags(session, source, data.tags or [])
    old_work_id = source.work_id
    if "work_id" in sent:
        require_id(session, Work, data.work_id, "work_id")
    changed = assign(
        source,
        data,
        exclude={"arxiv", "date", "year", "authors", "tags", "change_reason", "changed_by"},
    )
    after = {
        "arxiv": source.arxiv,
        "date": source.date_display,
        "authors": source.authors,
        "tags": data.tags,
    }
    for field, old in before.items():
        if old != after[field]:
            changed[field] = (old, after[field])
    for field, (old, new) in sorted(changed.items()):
        session.add(
            SourceRevision(
                source_id=source.id,
                field=field,
                old_value=_jsonable(old),
                new_value=_jsonable(new),
                reason=data.change_reason,
                changed_by=data.changed_by,
            )
        )
    for column, value in _identity_columns(source.title, source.raw_title, source.host).items():
        setattr(source, column, value)
    session.flush()
    if source.work_id != old_work_id:
        _drop_if_empty(session, old_work_id)
    return source


def _drop_if_empty(session: Session, work_id: int) -> None:
    """A work exists to group copies; once it has none it goes, unless something else
    (an edge, say) refers to it."""
    if session.scalar(select(func.count()).where(Source.work_id == work_id)) == 0:
        work = session.get(Work, work_id)
        if work is not None and not find_dependents(session, work):
            session.delete(work)
            session.flush()


def after_source_delete(session: Session, source: Source) -> None:
    _drop_if_empty(session, source.work_id)


def create_work(session: Session, data: WorkCreate) -> Work:
    work = Work(slug=data.slug, title=data.title, note=data.note)
    session.add(work)
    session.flush()
    return work


def update_work(session: Session, work: Work, data: WorkUpdate) -> Work:
    assign(work, data)
    return work


class WorkFilters(BaseModel):
    q: str | None = Field(None, max_length=200, description="Substring of the title.")
    min_copies: int | None = Field(
        None, ge=1, le=MAX_ID, description="Works with at least this many copies."
    )


def _work_filters(stmt: Select, f: WorkFilters) -> Select:
    if f.q:
        stmt = stmt.where(contains(Work.title, f.q))
    if f.min_copies:
        counts = (
            select(Source.work_id).group_by(Source.work_id).having(func.count() >= f.min_copies)
        )
        stmt = stmt.where(Work.id.in_(counts))
    return stmt


SOURCES = Resource(
    name="source",
    plural="sources",
    model=Source,
    public=SourcePublic,
    create_schema=SourceCreate,
    update_schema=SourceUpdate,
    create=create_source,
    update=update_source,
    filters_schema=SourceFilters,
    apply_filters=_filters,
    sortable={
        "date": Source.date,
        "title": Source.title,
        "kind": Source.kind,
        "created_at": Source.created_at,
        "updated_at": Source.updated_at,
    },
    load_options=[selectinload(Source.tag_rows)],
    has_slug=False,
    after_delete=after_source_delete,
    custom_create=True,
    fast_get=source_json,
)

WORKS = Resource(
    name="work",
    plural="works",
    model=Work,
    public=WorkPublic,
    create_schema=WorkCreate,
    update_schema=WorkUpdate,
    create=create_work,
    update=update_work,
    filters_schema=WorkFilters,
    apply_filters=_work_filters,
    sortable={"title": Work.title, "created_at": Work.created_at},
    load_options=[selectinload(Work.sources)],
)
