"""Loads the seed debate from seeds/*.yaml. Idempotent: rows are matched by their natural
keys (slugs, citation keys, listing numbers) and only written when they differ.
"""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from app.models import (
    Actor,
    Claim,
    ClaimStatusChange,
    Edge,
    Evidence,
    Perspective,
    PerspectiveEvolution,
    Problem,
    ProblemFacet,
    Source,
    SourceRevision,
    Tension,
    TensionSide,
    TensionStatusChange,
    Thread,
    ThreadCitation,
    ThreadItem,
    ThreadVersion,
    TimelineEvent,
    Work,
)
from app.models.common import Id, parse_partial_date
from app.models.edge import NodeType
from app.models.links import (
    event_sources,
    facet_claims,
    perspective_claims,
    perspective_sources,
    problem_actors,
    side_claims,
    side_perspectives,
    side_sources,
    status_change_sources,
    tension_sources,
)
from app.models.source import SourceCreate
from app.services import narratives
from app.services.citations import assign_listing_numbers
from app.services.refs import dedupe, set_links
from app.services.sources import set_tags, source_columns

SEED_FILES = ("actors", "problems", "sources", "claims", "thread")


class SeedError(ValueError):
    pass


class Loader:
    def __init__(self, session: Session, stamp: datetime | None = None) -> None:
        self.s = session
        # Rows the seed creates are dated as of the recorded version they belong to.
        self.stamp = stamp
        self.created: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.sources_by_key: dict[str, Source] = {}
        self.sources_by_listing: dict[int, Source] = {}

    # ------------------------------------------------------------ generic helpers

    def upsert(self, model: Any, lookup: dict[str, Any], values: dict[str, Any]) -> Any:
        name = model.__tablename__
        row = self.s.scalars(select(model).filter_by(**lookup)).first()
        if row is None:
            row = model(**lookup, **values)
            if self.stamp is not None:
                for column in ("created_at", "updated_at", "added_at"):
                    if hasattr(row, column):
                        setattr(row, column, self.stamp)
            self.s.add(row)
            self.s.flush()
            self.created[name] += 1
            return row
        changed = False
        for key, value in values.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed = True
        if changed:
            self.s.flush()
            self.updated[name] += 1
        return row

    def links(
        self, table: Table, owner_col: str, owner_id: Id, target_col: str, ids: list[int]
    ) -> None:
        current = list(
            self.s.scalars(
                select(table.c[target_col])
                .where(table.c[owner_col] == owner_id)
                .order_by(table.c.position)
            )
        )
        if current != dedupe(ids):
            set_links(self.s, table, owner_col, owner_id, target_col, ids)
            (self.updated if current else self.created)[table.name] += 1

    def by_slug(self, model: Any, slug: str | None) -> Any:
        if slug is None:
            return None
        row = self.s.scalars(select(model).where(model.slug == slug)).first()
        if row is None:
            raise SeedError(f"{model.__tablename__}: unknown slug '{slug}'")
        return row

    def source(self, ref: int | str) -> Source:
        found = (
            self.sources_by_listing.get(ref)
            if isinstance(ref, int)
            else self.sources_by_key.get(ref)
        )
        if found is None:
            raise SeedError(f"unknown source reference {ref!r}")
        return found

    def source_ids(self, refs: list[int | str] | None) -> list[int]:
        return [self.source(r).id for r in refs or []]

    # ------------------------------------------------------------ entities

    def actors(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.upsert(
                Actor,
                {"slug": r["slug"]},
                {
                    "name": r["name"],
                    "kind": r.get("kind", "person"),
                    "affiliation": r.get("affiliation"),
                    "url": r.get("url"),
                    "note": r.get("note"),
                },
            )

    def problems(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.upsert(
                Problem,
                {"slug": r["slug"]},
                {"number": r.get("number"), "title": r["title"], "summary": r.get("summary")},
            )

    def problem_facets(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            problem = self.by_slug(Problem, r["slug"])
            wanted = [
                (
                    status,
                    item["text"] if isinstance(item, dict) else item,
                    [self.by_slug(Claim, c).id for c in (item.get("claims") or [])]
                    if isinstance(item, dict)
                    else [],
                )
                for status in ("known", "partial", "unknown")
                for item in (r.get("facets") or {}).get(status) or []
            ]
            current = [(f.status.value, f.text, f.claim_ids) for f in problem.facets]
            if current != wanted:
                problem.facets.clear()
                self.s.flush()
                for position, (status, text, claim_ids) in enumerate(wanted):
                    facet = ProblemFacet(status=status, text=text, position=position)
                    problem.facets.append(facet)
                    self.s.flush()
                    set_links(self.s, facet_claims, "facet_id", facet.id, "claim_id", claim_ids)
                (self.updated if current else self.created)["problem_facets"] += len(wanted)
            actor_ids = [self.by_slug(Actor, a).id for a in r.get("actors") or []]
            self.links(problem_actors, "problem_id", problem.id, "actor_id", actor_ids)

    def sources(self, rows: list[dict[str, Any]]) -> None:
        works: dict[str, Work] = {}
        for r in rows:
            work_key = r.get("work") or r["key"]
            if work_key not in works:
                works[work_key] = self.upsert(Work, {"slug": work_key}, {"title": r["title"]})
            payload = {
                "citekey": r["key"],
                "kind": r.get("kind", "paper"),
                "title": r["title"],
                "raw_title": r.get("raw_title"),
                "authors": r.get("authors") or [],
                "et_al": bool(r.get("et_al", False)),
                "date": r.get("date"),
                "venue": r.get("venue"),
                "doi": r.get("doi"),
                "arxiv": r.get("arxiv"),
                "openreview_id": r.get("openreview_id"),
                "url": r.get("url"),
                "host": r.get("host"),
                "abstract": r.get("abstract"),
                "tags": r.get("tags") or [],
                "note": r.get("note"),
            }
            try:
                data = SourceCreate.model_validate(payload)
            except ValueError as exc:
                raise SeedError(f"source {r['key']}: {exc}") from exc
            columns = source_columns(data)
            columns.pop("citekey")
            source = self.upsert(
                Source, {"citekey": r["key"]}, {**columns, "work_id": works[work_key].id}
            )
            for c in r.get("corrections") or []:
                self.upsert(
                    SourceRevision,
                    {
                        "source_id": source.id,
                        "field": c["field"],
                        "changed_at": _when(c.get("date")),
                    },
                    {
                        "old_value": c.get("from"),
                        "new_value": c["to"],
                        "reason": c.get("reason"),
                        "changed_by": "seed",
                    },
                )
            if source.tags != data.tags:
                set_tags(self.s, source, data.tags)
                self.s.flush()
            self.sources_by_key[r["key"]] = source
            if r.get("listing") is not None:
                self.sources_by_listing[int(r["listing"])] = source

    def source_edges(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            for slug in r.get("problems") or []:
                problem = self.by_slug(Problem, slug)
                self.edge(
                    NodeType.source,
                    self.sources_by_key[r["key"]].id,
                    "addresses",
                    NodeType.problem,
                    problem.id,
                )

    def edge(
        self,
        from_type: NodeType,
        from_id: Id,
        relation: str,
        to_type: NodeType,
        to_id: Id,
        note: str | None = None,
    ) -> None:
        self.upsert(
            Edge,
            {
                "from_type": from_type,
                "from_id": from_id,
                "relation": relation,
                "to_type": to_type,
                "to_id": to_id,
            },
            {"note": note, "recorded_by": "seed"},
        )

    def claims(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            scope = {
                k: (r.get("scope") or {}).get(k)
                for k in ("architecture", "regime", "data", "scale")
            }
            claim = self.upsert(
                Claim,
                {"slug": r["slug"]},
                {
                    "problem_id": self.by_slug(Problem, r.get("problem")).id
                    if r.get("problem")
                    else None,
                    "text": r["text"],
                    "kind": r["kind"],
                    "status": r.get("status", "open"),
                    "scope": scope,
                    "experiment": r.get("experiment"),
                    "note": r.get("note"),
                },
            )
            for ev in r.get("evidence") or []:
                self.upsert(
                    Evidence,
                    {
                        "claim_id": claim.id,
                        "source_id": self.source(ev["source"]).id,
                        "relation": ev["relation"],
                    },
                    {"note": ev.get("note"), "recorded_by": "seed"},
                )
            if not r.get("status_history"):
                self.upsert(
                    ClaimStatusChange,
                    {"claim_id": claim.id, "from_status": None, "changed_at": _when(None)},
                    {
                        "to_status": r.get("status", "open"),
                        "reason": "recorded in the seed",
                        "changed_by": "seed",
                    },
                )
            for h in r.get("status_history") or []:
                self.upsert(
                    ClaimStatusChange,
                    {
                        "claim_id": claim.id,
                        "to_status": h["to"],
                        "changed_at": _when(h.get("date")),
                    },
                    {"from_status": h.get("from"), "reason": h.get("reason"), "changed_by": "seed"},
                )

    def thread(self, doc: dict[str, Any], source_rows: list[dict[str, Any]]) -> Thread:
        t = doc["thread"]
        thread = self.upsert(
            Thread,
            {"slug": t["slug"]},
            {"title": t["title"], "summary": t.get("summary"), "found_via": t.get("found_via")},
        )
        for r in source_rows:
            if r.get("listing") is None:
                continue
            source = self.sources_by_key[r["key"]]
            self.upsert(
                ThreadItem,
                {"thread_id": thread.id, "source_id": source.id},
                {"found_via": r.get("found_via") or t.get("found_via")},
            )
        return thread

    def timeline(self, thread: Thread, rows: list[dict[str, Any]]) -> None:
        for position, r in enumerate(rows):
            value, precision = parse_partial_date(r["date"])
            event = self.upsert(
                TimelineEvent,
                {"slug": r["slug"]},
                {
                    "thread_id": thread.id,
                    "date": value,
                    "date_precision": precision,
                    "text": r["text"],
                    "position": position,
                },
            )
            self.links(
                event_sources, "event_id", event.id, "source_id", self.source_ids(r.get("sources"))
            )

    def perspectives(self, thread: Thread, rows: list[dict[str, Any]]) -> None:
        for position, r in enumerate(rows):
            p = self.upsert(
                Perspective,
                {"slug": r["slug"]},
                {
                    "thread_id": thread.id,
                    "actor_id": self.by_slug(Actor, r.get("actor")).id if r.get("actor") else None,
                    "label": r["label"],
                    "stance": r["stance"],
                    "position": position,
                },
            )
            self.links(
                perspective_sources,
                "perspective_id",
                p.id,
                "source_id",
                self.source_ids(r.get("sources")),
            )
            self.links(
                perspective_claims,
                "perspective_id",
                p.id,
                "claim_id",
                [self.by_slug(Claim, c).id for c in r.get("claims") or []],
            )
            for e in r.get("evolution") or []:
                self.upsert(
                    PerspectiveEvolution,
                    {"perspective_id": p.id, "version": e["version"]},
                    {"kind": e["kind"], "note": e.get("note")},
                )

    def tensions(self, thread: Thread, rows: list[dict[str, Any]]) -> None:
        for position, r in enumerate(rows):
            tension = self.upsert(
                Tension,
                {"slug": r["slug"]},
                {
                    "thread_id": thread.id,
                    "problem_id": self.by_slug(Problem, r["problem"]).id
                    if r.get("problem")
                    else None,
                    "title": r["title"],
                    "question": r["question"],
                    "status": r.get("status", "open"),
                    "position": position,
                },
            )
            self.links(
                tension_sources,
                "tension_id",
                tension.id,
                "source_id",
                self.source_ids(r.get("sources")),
            )
            for side_pos, side_doc in enumerate(r.get("sides") or []):
                side = self.upsert(
                    TensionSide,
                    {"tension_id": tension.id, "position": side_pos},
                    {"label": side_doc["label"]},
                )
                self.links(
                    side_claims,
                    "side_id",
                    side.id,
                    "claim_id",
                    [self.by_slug(Claim, c).id for c in side_doc.get("claims") or []],
                )
                self.links(
                    side_perspectives,
                    "side_id",
                    side.id,
                    "perspective_id",
                    [self.by_slug(Perspective, p).id for p in side_doc.get("perspectives") or []],
                )
                self.links(
                    side_sources,
                    "side_id",
                    side.id,
                    "source_id",
                    self.source_ids(side_doc.get("sources")),
                )
            previous = None
            for h in r.get("status_history") or []:
                change = self.upsert(
                    TensionStatusChange,
                    {
                        "tension_id": tension.id,
                        "to_status": h["status"],
                        "changed_at": _when(h.get("date")),
                    },
                    {"from_status": previous, "reason": h.get("reason"), "changed_by": "seed"},
                )
                self.links(
                    status_change_sources,
                    "change_id",
                    change.id,
                    "source_id",
                    self.source_ids(h.get("sources")),
                )
                previous = h["status"]

    def version(self, thread: Thread, spec: dict[str, Any] | None) -> None:
        """The listings keep their numbers; the recorded version is published once."""
        numbered = {n: s.id for n, s in self.sources_by_listing.items()}
        before = self.s.scalar(
            select(func.count())
            .select_from(ThreadCitation)
            .where(ThreadCitation.thread_id == thread.id)
        )
        assign_listing_numbers(self.s, thread.id, numbered)
        added = (
            self.s.scalar(
                select(func.count())
                .select_from(ThreadCitation)
                .where(ThreadCitation.thread_id == thread.id)
            )
            or 0
        ) - (before or 0)
        if added:
            self.created["thread_citations"] += added
        if not spec:
            return
        exists = self.s.scalar(
            select(ThreadVersion.id).where(
                ThreadVersion.thread_id == thread.id, ThreadVersion.number == spec["number"]
            )
        )
        if exists is None:
            published = datetime.fromisoformat(spec["published_at"].replace("Z", "+00:00"))
            narratives.publish(
                self.s,
                thread,
                spec["narrative"].strip(),
                published,
                number=spec["number"],
                item_count=spec["item_count"],
            )
            self.created["thread_versions"] += 1

    def edges(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            from_type, from_id = self.node(r["from"])
            to_type, to_id = self.node(r["to"])
            self.edge(from_type, from_id, r["relation"], to_type, to_id, r.get("note"))

    def node(self, ref: str) -> tuple[NodeType, int]:
        kind, _, key = ref.partition(":")
        node_type = NodeType(kind)
        if node_type is NodeType.source:
            return node_type, self.source(int(key) if key.isdigit() else key).id
        models = {
            NodeType.problem: Problem,
            NodeType.claim: Claim,
            NodeType.actor: Actor,
            NodeType.perspective: Perspective,
            NodeType.tension: Tension,
            NodeType.event: TimelineEvent,
            NodeType.thread: Thread,
            NodeType.work: Work,
        }
        return node_type, self.by_slug(models[node_type], key).id


def _when(value: Any) -> datetime:
    if value is None:
        return datetime(2026, 4, 30, tzinfo=UTC)
    day, _ = parse_partial_date(value)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def read_seed_files(seeds_dir: Path) -> dict[str, Any]:
    docs = {}
    for name in SEED_FILES:
        path = seeds_dir / f"{name}.yaml"
        if not path.exists():
            raise SeedError(f"missing seed file {path}")
        docs[name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return docs


def load_seed(session: Session, seeds_dir: Path) -> dict[str, dict[str, int]]:
    """Load or refresh the seed debate; returns created/updated counts per table."""
    docs = read_seed_files(seeds_dir)
    version = docs["thread"]["thread"].get("version") or {}
    stamp = (
        datetime.fromisoformat(version["published_at"].replace("Z", "+00:00"))
        if version.get("published_at")
        else None
    )
    loader = Loader(session, stamp)
    loader.actors(docs["actors"])
    loader.problems(docs["problems"])
    loader.sources(docs["sources"])
    loader.claims(docs["claims"])
    loader.problem_facets(docs["problems"])
    loader.source_edges(docs["sources"])
    thread_doc = docs["thread"]
    thread = loader.thread(thread_doc, docs["sources"])
    loader.timeline(thread, thread_doc.get("timeline") or [])
    loader.perspectives(thread, thread_doc.get("perspectives") or [])
    loader.tensions(thread, thread_doc.get("tensions") or [])
    loader.edges(thread_doc.get("edges") or [])
    loader.version(thread, thread_doc["thread"].get("version"))
    session.flush()
    names = sorted(set(loader.created) | set(loader.updated))
    return {n: {"created": loader.created[n], "updated": loader.updated[n]} for n in names}
