"""Full-text search (SQLite FTS5 with triggers; PostgreSQL tsvector columns) and the graph
change log.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What each searchable table contributes: (kind, title expression, body expression).
SEARCHABLE = {
    "sources": (
        "source",
        "{r}.title",
        "coalesce({r}.raw_title, '') || ' ' || coalesce({r}.abstract, '') || ' ' || "
        "coalesce({r}.venue, '') || ' ' || coalesce({r}.note, '') || ' ' || "
        "coalesce(CAST({r}.authors AS TEXT), '')",
    ),
    "claims": (
        "claim",
        "{r}.text",
        "coalesce({r}.note, '') || ' ' || coalesce(CAST({r}.scope AS TEXT), '')",
    ),
    "perspectives": ("perspective", "{r}.label", "{r}.stance"),
    "tensions": ("tension", "{r}.title", "{r}.question"),
}


def _sqlite_upgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_index USING fts5("
        "kind UNINDEXED, ref_id UNINDEXED, title, body, tokenize='porter unicode61 remove_diacritics 2')"
    )
    for table, (kind, title, body) in SEARCHABLE.items():
        new_title, new_body = title.format(r="new"), body.format(r="new")
        delete = f"DELETE FROM search_index WHERE kind = '{kind}' AND ref_id = old.id;"
        insert = (
            f"INSERT INTO search_index (kind, ref_id, title, body) "
            f"VALUES ('{kind}', new.id, {new_title}, {new_body});"
        )
        op.execute(f"CREATE TRIGGER {table}_search_ai AFTER INSERT ON {table} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {table}_search_ad AFTER DELETE ON {table} BEGIN {delete} END")
        op.execute(
            f"CREATE TRIGGER {table}_search_au AFTER UPDATE ON {table} BEGIN {delete} {insert} END"
        )
        op.execute(
            f"INSERT INTO search_index (kind, ref_id, title, body) "
            f"SELECT '{kind}', t.id, {title.format(r='t')}, {body.format(r='t')} FROM {table} t"
        )


def _sqlite_downgrade() -> None:
    for table in SEARCHABLE:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}")
    op.execute("DROP TABLE IF EXISTS search_index")


def _pg_upgrade() -> None:
    for table, (_kind, title, body) in SEARCHABLE.items():
        title_sql = title.format(r=table)
        body_sql = body.format(r=table).replace("CAST(", "(").replace(" AS TEXT)", "::text)")
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            f"setweight(to_tsvector('english', coalesce({title_sql}, '')), 'A') || "
            f"setweight(to_tsvector('english', {body_sql}), 'B')) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")


def _pg_downgrade() -> None:
    for table in SEARCHABLE:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")


def upgrade() -> None:
    op.create_table(
        "graph_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node_type", sa.String(length=20), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_graph_changes")),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _pg_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
    else:
        _pg_downgrade()
    op.drop_table("graph_changes")
