"""Pairs of works a curator declared distinct (not copies of one another).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_distinctions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_a", sa.Integer(), nullable=False),
        sa.Column("work_b", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_a"],
            ["works.id"],
            name=op.f("fk_work_distinctions_work_a_works"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_b"],
            ["works.id"],
            name=op.f("fk_work_distinctions_work_b_works"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_distinctions")),
        sa.UniqueConstraint("work_a", "work_b", name=op.f("uq_work_distinctions_work_a_work_b")),
    )
    op.create_index(op.f("ix_work_distinctions_work_a"), "work_distinctions", ["work_a"])
    op.create_index(op.f("ix_work_distinctions_work_b"), "work_distinctions", ["work_b"])


def downgrade() -> None:
    op.drop_index(op.f("ix_work_distinctions_work_b"), table_name="work_distinctions")
    op.drop_index(op.f("ix_work_distinctions_work_a"), table_name="work_distinctions")
    op.drop_table("work_distinctions")
