"""Shadows and their predictions: a version predicting beside the champion, and what it answered, by request id.

The shadow's outputs have a table of their own, so drift windows and retrain rows, which read `predictions`, keep
reading only what clients were answered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("shadow_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("shadow_predictions", schema=None) as batch_op:
        batch_op.create_index("ix_shadow_predictions_shadow_id", ["shadow_id", "id"], unique=False)

    op.create_table(
        "shadows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("champion_version", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("needed_rows", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shadows", schema=None) as batch_op:
        batch_op.create_index("ix_shadows_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shadows", schema=None) as batch_op:
        batch_op.drop_index("ix_shadows_status")

    op.drop_table("shadows")
    with op.batch_alter_table("shadow_predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_shadow_predictions_shadow_id")

    op.drop_table("shadow_predictions")
