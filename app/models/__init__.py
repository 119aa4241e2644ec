"""All tables, imported so that Base.metadata knows them (Alembic reads it)."""

from app.models.actor import Actor
from app.models.base import Base
from app.models.change import GraphChange
from app.models.claim import Claim, ClaimStatusChange, Evidence
from app.models.edge import Edge
from app.models.perspective import Perspective, PerspectiveEvolution
from app.models.problem import Problem, ProblemFacet
from app.models.run import ExperimentRun
from app.models.source import Source, SourceRevision, SourceTag, Work, WorkDistinction
from app.models.tension import Tension, TensionSide, TensionStatusChange
from app.models.thread import Thread, ThreadItem
from app.models.timeline import TimelineEvent
from app.models.token import ApiToken
from app.models.version import ThreadCitation, ThreadVersion
from app.models.watch import Embedding, InboxItem, InboxKey, Watch

__all__ = [
    "Actor",
    "ApiToken",
    "Base",
    "Claim",
    "ClaimStatusChange",
    "Edge",
    "Embedding",
    "Evidence",
    "ExperimentRun",
    "GraphChange",
    "InboxItem",
    "InboxKey",
    "Perspective",
    "PerspectiveEvolution",
    "Problem",
    "ProblemFacet",
    "Source",
    "SourceRevision",
    "SourceTag",
    "Tension",
    "TensionSide",
    "TensionStatusChange",
    "Thread",
    "ThreadCitation",
    "ThreadItem",
    "ThreadVersion",
    "TimelineEvent",
    "Watch",
    "Work",
    "WorkDistinction",
]
