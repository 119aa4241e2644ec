"""GraphChange: an append-only log of touched graph nodes, written in each write's transaction.

Every process keeps its in-memory graph current by applying the entries it has not seen.
"""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class GraphChange(Base):
    __tablename__ = "graph_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_type: Mapped[str] = mapped_column(String(20))
    node_id: Mapped[int] = mapped_column(Integer)
