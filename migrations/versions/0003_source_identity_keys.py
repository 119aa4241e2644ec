"""Identity keys on sources: normalised title, truncation flag, site.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.services.identity import identity_keys

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): a copied SQLite table would lose its search triggers.
    op.add_column(
        "sources", sa.Column("title_key", sa.String(1000), nullable=False, server_default="")
    )
    op.add_column(
        "sources",
        sa.Column("title_truncated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("sources", sa.Column("site", sa.String(50), nullable=True))
    op.create_index("ix_sources_title_key", "sources", ["title_key"])
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, raw_title, host FROM sources")).all()
    for row in rows:
        key, truncated, site = identity_keys(row.title, row.raw_title, row.host)
        bind.execute(
            sa.text(
                "UPDATE sources SET title_key = :k, title_truncated = :t, site = :s WHERE id = :i"
            ),
            {"k": key, "t": truncated, "s": site, "i": row.id},
        )


def downgrade() -> None:
    op.drop_index("ix_sources_title_key", table_name="sources")
    # SQLite 3.35+ drops columns in place, keeping the table (and its triggers).
    for column in ("site", "title_truncated", "title_key"):
        op.drop_column("sources", column)
