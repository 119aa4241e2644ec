"""The debate as an in-memory typed multigraph (networkx), kept current from the database.

Nodes are "type:id" strings. Every edge belongs to an owner row (a source owns its
`part_of` edges, an evidence row its `supports` edge, a perspective the edges to what it
rests on, …). A write logs the touched owners in `graph_changes` inside its transaction;
before answering, the graph applies log entries it has not seen by recomputing those
owners' edges. So writes from any process show up without a rebuild.
"""

import sys
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Actor,
    Claim,
    Edge,
    Evidence,
    ExperimentRun,
    GraphChange,
    Perspective,
    Problem,
    Source,
    Tension,
    TensionSide,
    TensionStatusChange,
    Thread,
    ThreadItem,
    TimelineEvent,
    Work,
)
from app.models.common import Id
from app.models.links import (
    event_sources,
    perspective_claims,
    perspective_sources,
    problem_actors,
    side_claims,
    side_perspectives,
    side_sources,
    status_change_sources,
    tension_sources,
)

Owner = str  # "type:id" of the row that owns some edges, e.g. "evidence:7"
# What `DebateGraph.owned` keeps per owner. Most owners own one edge keyed by the owner
# itself: for them only one end of it (a node name, already interned: no new object; at
# 430,000 edges a tuple each would cost 27 MB). Otherwise a list of (u, v, key) tuples.
OwnedEdges = Any

# One shared, read-only attribute dict per relation (see DebateGraph._add).
_RELATION_ATTRS: dict[str, dict[str, str]] = {}
EdgeRow = tuple[int, str, str, str]  # (owner id, from node, to node, relation)

# Entries older than this many sequence numbers are assumed applied; covers writers that
# commit out of sequence order on PostgreSQL.
REPLAY_WINDOW = 1000


def node_key(node_type: str, node_id: Id) -> str:
    # Interned: the graph holds each node name in several dicts; one object serves them all.
    return sys.intern(f"{node_type}:{node_id}")


def _ids_filter(column: Any, ids: list[int] | None) -> Any:
    return True if ids is None else column.in_(ids)


def _short(text: str | None, n: int = 120) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def normalize_name(name: str) -> str:
    return " ".join(name.replace(".", " ").lower().split())


def _author_names(authors: list[dict[str, Any]] | None) -> list[str]:
    names = []
    for a in authors or []:
        given, family = a.get("given"), a.get("family") or ""
        names.append(normalize_name(f"{given} {family}" if given else family))
    return names


# ---------------------------------------------------------------- nodes


def _node_rows(
    s: Session, node_type: str, ids: list[int] | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    if node_type == "source":
        q = select(Source.id, Source.title, Source.kind, Source.authors)
        for sid, title, kind, authors in s.execute(q.where(_ids_filter(Source.id, ids))):
            yield (
                sid,
                {
                    "label": _short(title),
                    "kind": str(kind.value),
                    "_authors": _author_names(authors),
                },
            )
        return
    if node_type == "run":  # only endorsed runs: evidence, not every run anyone started
        q = select(ExperimentRun.id, ExperimentRun.experiment, ExperimentRun.seed)
        q = q.join(Evidence, Evidence.run_id == ExperimentRun.id)
        for rid, name, seed in s.execute(q.where(_ids_filter(ExperimentRun.id, ids))):
            yield rid, {"label": f"{name} run {rid} (seed {seed})"}
        return
    simple: dict[str, tuple[Any, Any]] = {
        "problem": (Problem, Problem.title),
        "work": (Work, Work.title),
        "actor": (Actor, Actor.name),
        "claim": (Claim, Claim.text),
        "perspective": (Perspective, Perspective.label),
        "tension": (Tension, Tension.title),
        "event": (TimelineEvent, TimelineEvent.text),
        "thread": (Thread, Thread.title),
    }
    model, label = simple[node_type]
    for row_id, text in s.execute(select(model.id, label).where(_ids_filter(model.id, ids))):
        yield row_id, {"label": _short(text)}


NODE_TYPES = (
    "problem",
    "work",
    "source",
    "actor",
    "claim",
    "perspective",
    "tension",
    "event",
    "thread",
    "run",
)


# ---------------------------------------------------------------- owned edges


def _pairs(s: Session, stmt: Any) -> Iterator[tuple[int, int]]:
    yield from s.execute(stmt)


def _owned_edges(s: Session, owner_type: str, ids: list[int] | None) -> Iterator[EdgeRow]:
    """Edges owned by rows of `owner_type` (all rows when ids is None)."""
    q: Any
    if owner_type == "source":
        for sid, wid in _pairs(
            s, select(Source.id, Source.work_id).where(_ids_filter(Source.id, ids))
        ):
            yield sid, node_key("source", sid), node_key("work", wid), "part_of"
        q = select(ThreadItem.source_id, ThreadItem.thread_id)
        for sid, tid in _pairs(s, q.where(_ids_filter(ThreadItem.source_id, ids))):
            yield sid, node_key("source", sid), node_key("thread", tid), "part_of"
    elif owner_type == "claim":
        q = select(Claim.id, Claim.problem_id).where(Claim.problem_id.is_not(None))
        for cid, pid in _pairs(s, q.where(_ids_filter(Claim.id, ids))):
            yield cid, node_key("claim", cid), node_key("problem", pid), "about"
    elif owner_type == "evidence":
        q = select(
            Evidence.id, Evidence.source_id, Evidence.run_id, Evidence.claim_id, Evidence.relation
        )
        for eid, sid, rid, cid, relation in s.execute(q.where(_ids_filter(Evidence.id, ids))):
            origin = node_key("source", sid) if sid else node_key("run", rid)
            yield eid, origin, node_key("claim", cid), str(relation.value)
    elif owner_type == "perspective":
        q = select(Perspective.id, Perspective.actor_id, Perspective.thread_id)
        for pid, aid, tid in s.execute(q.where(_ids_filter(Perspective.id, ids))):
            if aid:
                yield pid, node_key("actor", aid), node_key("perspective", pid), "holds"
            if tid:
                yield pid, node_key("perspective", pid), node_key("thread", tid), "part_of"
        for table, target, relation in (
            (perspective_sources, "source", "cites"),
            (perspective_claims, "claim", "holds"),
        ):
            q = select(table.c.perspective_id, table.c[f"{target}_id"])
            for pid, tid in _pairs(s, q.where(_ids_filter(table.c.perspective_id, ids))):
                yield pid, node_key("perspective", pid), node_key(target, tid), relation
    elif owner_type == "tension":
        yield from _tension_edges(s, ids)
    elif owner_type == "event":
        q = select(TimelineEvent.id, TimelineEvent.thread_id).where(
            TimelineEvent.thread_id.is_not(None)
        )
        for eid, tid in _pairs(s, q.where(_ids_filter(TimelineEvent.id, ids))):
            yield eid, node_key("event", eid), node_key("thread", tid), "part_of"
        q = select(event_sources.c.event_id, event_sources.c.source_id)
        for eid, sid in _pairs(s, q.where(_ids_filter(event_sources.c.event_id, ids))):
            yield eid, node_key("event", eid), node_key("source", sid), "cites"
    elif owner_type == "problem":
        q = select(problem_actors.c.problem_id, problem_actors.c.actor_id)
        for pid, aid in _pairs(s, q.where(_ids_filter(problem_actors.c.problem_id, ids))):
            yield pid, node_key("actor", aid), node_key("problem", pid), "works_on"
    elif owner_type == "edge":
        q = select(Edge.id, Edge.from_type, Edge.from_id, Edge.to_type, Edge.to_id, Edge.relation)
        for eid, ft, fid, tt, tid, relation in s.execute(q.where(_ids_filter(Edge.id, ids))):
            yield (
                eid,
                node_key(str(ft.value), fid),
                node_key(str(tt.value), tid),
                str(relation.value),
            )


def _tension_edges(s: Session, ids: list[int] | None) -> Iterator[EdgeRow]:
    q: Any
    q = select(Tension.id, Tension.problem_id, Tension.thread_id)
    for tid, pid, thid in s.execute(q.where(_ids_filter(Tension.id, ids))):
        if pid:
            yield tid, node_key("tension", tid), node_key("problem", pid), "about"
        if thid:
            yield tid, node_key("tension", tid), node_key("thread", thid), "part_of"
    q = select(tension_sources.c.tension_id, tension_sources.c.source_id)
    for tid, sid in _pairs(s, q.where(_ids_filter(tension_sources.c.tension_id, ids))):
        yield tid, node_key("tension", tid), node_key("source", sid), "cites"
    for table, target, relation in (
        (side_claims, "claim", "about"),
        (side_perspectives, "perspective", "about"),
        (side_sources, "source", "cites"),
    ):
        q = select(TensionSide.tension_id, table.c[f"{target}_id"]).join(
            TensionSide, TensionSide.id == table.c.side_id
        )
        for tid, target_id in _pairs(s, q.where(_ids_filter(TensionSide.tension_id, ids))):
            yield tid, node_key("tension", tid), node_key(target, target_id), relation
    q = select(TensionStatusChange.tension_id, status_change_sources.c.source_id).join(
        TensionStatusChange, TensionStatusChange.id == status_change_sources.c.change_id
    )
    for tid, sid in _pairs(s, q.where(_ids_filter(TensionStatusChange.tension_id, ids))):
        yield tid, node_key("tension", tid), node_key("source", sid), "cites"


OWNER_TYPES = ("source", "claim", "evidence", "perspective", "tension", "event", "problem", "edge")


def _anchor(owner: Owner, u: str, v: str) -> str:
    """The end of an owner's only edge by which to find it again: the end with few edges.
    That is the owner's own node where it is one (a claim's `about` edge, the source of
    `authorship:7`), else the edge's origin (a source's evidence; hubs are claims)."""
    owner_type, _, owner_id = owner.partition(":")
    own = f"source:{owner_id}" if owner_type == "authorship" else owner
    return v if v == own else u


# ---------------------------------------------------------------- the service


class DebateGraph:
    """One per process. All access goes through `current(session)`, which syncs first."""

    def __init__(self) -> None:
        self.g: nx.MultiDiGraph = nx.MultiDiGraph()
        self.owned: dict[Owner, OwnedEdges] = {}
        self.actor_names: dict[int, str] = {}
        self.actors_by_name: dict[str, set[int]] = defaultdict(set)
        self.built = False
        self.applied_upto = 0
        self.applied_recent: set[int] = set()
        self.version = 0  # bumps on every change; caches key on it
        self.builds = 0  # full loads from the database (one per process, normally)
        self.cache: dict[Any, Any] = {}
        self.lock = threading.RLock()

    # --- building and syncing

    @contextmanager
    def reading(self, session: Session) -> Iterator[nx.MultiDiGraph]:
        """Sync with the change log, then hold the graph still while the caller reads it."""
        with self.lock:
            if not self.built:
                self.build(session)
            else:
                self.sync(session)
            yield self.g

    def build(self, session: Session) -> None:
        top = session.scalar(select(func.max(GraphChange.seq))) or 0
        seen = set(
            session.scalars(
                select(GraphChange.seq).where(
                    GraphChange.seq > top - REPLAY_WINDOW, GraphChange.seq <= top
                )
            )
        )
        self.g = nx.MultiDiGraph()
        self.owned = {}
        self.actor_names, self.actors_by_name = {}, defaultdict(set)
        for node_type in NODE_TYPES:
            self._load_nodes(session, node_type, None)
        for owner_type in OWNER_TYPES:
            self._load_edges(session, owner_type, None)
        self._load_authorship([n for n in self.g if n.startswith("source:")])
        self.applied_upto, self.applied_recent = top, seen
        self.built = True
        self.builds += 1
        self._bump()

    def sync(self, session: Session) -> int:
        """Apply unseen change-log entries; returns how many owners were refreshed."""
        low = max(0, self.applied_upto - REPLAY_WINDOW)
        rows = session.execute(
            select(GraphChange.seq, GraphChange.node_type, GraphChange.node_id)
            .where(GraphChange.seq > low)
            .order_by(GraphChange.seq)
        ).all()
        todo = [r for r in rows if r.seq not in self.applied_recent]
        if not todo:
            return 0
        touched: dict[str, set[int]] = defaultdict(set)
        for r in todo:
            touched[r.node_type].add(r.node_id)
        for node_type, ids in touched.items():
            self.refresh(session, node_type, sorted(ids))
        for r in todo:
            self.applied_recent.add(r.seq)
        self.applied_upto = max(self.applied_upto, max(r.seq for r in todo))
        floor = self.applied_upto - REPLAY_WINDOW
        self.applied_recent = {s for s in self.applied_recent if s > floor}
        self._bump()
        return sum(len(v) for v in touched.values())

    def refresh(self, session: Session, node_type: str, ids: list[int]) -> None:
        """Recompute the nodes `type:id` and every edge they own."""
        old_names = {self.actor_names.get(i) for i in ids} if node_type == "actor" else set()
        if node_type in NODE_TYPES:
            present = {i for i, _ in _node_rows(session, node_type, ids)}
            for i in set(ids) - present:
                key = node_key(node_type, i)
                if key in self.g:
                    self.g.remove_node(key)
                self._drop_owned(f"{node_type}:{i}")
                if node_type == "actor":
                    self._forget_actor(i)
            self._load_nodes(session, node_type, ids)
        if node_type in OWNER_TYPES:
            for i in ids:
                self._drop_owned(f"{node_type}:{i}")
            self._load_edges(session, node_type, ids)
        if node_type == "source":
            self._load_authorship([node_key("source", i) for i in ids])
        if node_type == "actor":
            # Authorship is matched by name: re-check sources under the old and new names.
            names = (old_names | {self.actor_names.get(i) for i in ids}) - {None}
            affected = [
                n
                for n, d in self.g.nodes(data=True)
                if d.get("type") == "source" and names & set(d.get("_authors", ()))
            ]
            self._load_authorship(affected)

    def _bump(self) -> None:
        self.version += 1
        self.cache.clear()

    # --- pieces

    def _load_nodes(self, session: Session, node_type: str, ids: list[int] | None) -> None:
        for row_id, attrs in _node_rows(session, node_type, ids):
            key = node_key(node_type, row_id)
            self.g.add_node(key, type=node_type, id=row_id, **attrs)
            if node_type == "actor":
                self._forget_actor(row_id)
                name = normalize_name(attrs["label"])
                self.actor_names[row_id] = name
                self.actors_by_name[name].add(row_id)

    def _forget_actor(self, actor_id: Id) -> None:
        old = self.actor_names.pop(actor_id, None)
        if old is not None:
            self.actors_by_name[old].discard(actor_id)

    def _add(self, owner: Owner, u: str, v: str, relation: str) -> None:
        """Add edge u→v owned by `owner`; its key is the owner (plus the relation in the rare
        case that one owner links the same two nodes twice)."""
        held = self.owned.get(owner)
        if isinstance(held, str):  # a second edge: find the first while it is the only one
            held = self.owned[owner] = self._owned_edges(owner)
        for node in (u, v):
            if node not in self.g:
                node_type, _, raw_id = node.partition(":")
                self.g.add_node(node, type=node_type, id=int(raw_id), label=node)
        # Like g.add_edge(u, v, key, relation=...), but every edge of one relation shares one
        # read-only attribute dict: at 300,000 edges that saves about 70 MB.
        keydict = self.g._succ[u].get(v)
        if keydict is None:
            keydict = self.g._succ[u][v] = self.g._pred[v][u] = {}
        key = owner
        if key in keydict and keydict[key]["relation"] != relation:
            key = f"{owner}:{relation}"
        keydict[key] = _RELATION_ATTRS.setdefault(relation, {"relation": relation})
        edge = (u, v, key)
        if held is None and key == owner:
            self.owned[owner] = _anchor(owner, u, v)
        elif isinstance(held, list):
            held.append(edge)
        else:
            self.owned[owner] = [edge]

    def _load_edges(self, session: Session, owner_type: str, ids: list[int] | None) -> None:
        for owner_id, u, v, relation in _owned_edges(session, owner_type, ids):
            self._add(f"{owner_type}:{owner_id}", u, v, relation)

    def _owned_edges(self, owner: Owner) -> list[tuple[str, str, str]]:
        held = self.owned.get(owner)
        if held is None or isinstance(held, list):
            return held or []
        # One edge keyed `owner` at the node `held`: look among that node's edges.
        for v, keydict in self.g._succ.get(held, {}).items():
            if owner in keydict:
                return [(held, v, owner)]
        for u, keydict in self.g._pred.get(held, {}).items():
            if owner in keydict:
                return [(u, held, owner)]
        return []

    def _drop_owned(self, owner: Owner) -> None:
        for u, v, key in self._owned_edges(owner):
            if self.g.has_edge(u, v, key):
                self.g.remove_edge(u, v, key)
        self.owned.pop(owner, None)

    def _load_authorship(self, source_nodes: Iterable[str]) -> None:
        for node in source_nodes:
            if node not in self.g:
                continue
            source_id = self.g.nodes[node]["id"]
            self._drop_owned(f"authorship:{source_id}")
            for name in self.g.nodes[node].get("_authors", ()):
                for actor_id in self.actors_by_name.get(name, ()):
                    self._add(
                        f"authorship:{source_id}", node_key("actor", actor_id), node, "authored"
                    )
