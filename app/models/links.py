"""Association tables. Each row links two entities; `position` keeps citation order.

Deleting an entity that appears here needs `?cascade=true` (the link rows are dependents).
"""

from sqlalchemy import Column, ForeignKey, Integer, Table

from app.models.base import Base


def link_table(name: str, owner: tuple[str, str], target: tuple[str, str]) -> Table:
    """owner/target: (column name, referenced table). The owner side cascades on delete."""
    owner_col, owner_table = owner
    target_col, target_table = target
    return Table(
        name,
        Base.metadata,
        Column(
            owner_col,
            Integer,
            ForeignKey(f"{owner_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column(target_col, Integer, ForeignKey(f"{target_table}.id"), primary_key=True, index=True),
        Column("position", Integer, nullable=False, default=0, server_default="0"),
    )


problem_actors = link_table("problem_actors", ("problem_id", "problems"), ("actor_id", "actors"))
facet_claims = link_table("facet_claims", ("facet_id", "problem_facets"), ("claim_id", "claims"))
perspective_sources = link_table(
    "perspective_sources", ("perspective_id", "perspectives"), ("source_id", "sources")
)
perspective_claims = link_table(
    "perspective_claims", ("perspective_id", "perspectives"), ("claim_id", "claims")
)
tension_sources = link_table(
    "tension_sources", ("tension_id", "tensions"), ("source_id", "sources")
)
side_claims = link_table("side_claims", ("side_id", "tension_sides"), ("claim_id", "claims"))
side_perspectives = link_table(
    "side_perspectives", ("side_id", "tension_sides"), ("perspective_id", "perspectives")
)
side_sources = link_table("side_sources", ("side_id", "tension_sides"), ("source_id", "sources"))
status_change_sources = link_table(
    "status_change_sources", ("change_id", "tension_status_changes"), ("source_id", "sources")
)
event_sources = link_table(
    "event_sources", ("event_id", "timeline_events"), ("source_id", "sources")
)

LINK_TABLES = {
    t.name
    for t in (
        problem_actors,
        facet_claims,
        perspective_sources,
        perspective_claims,
        tension_sources,
        side_claims,
        side_perspectives,
        side_sources,
        status_change_sources,
        event_sources,
    )
} | {"thread_items"}
