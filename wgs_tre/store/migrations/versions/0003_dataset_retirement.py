"""retiring a dataset version: an append-only record of when, by whom and why

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from wgs_tre.store.append_only import allow_changes, refuse_changes
from wgs_tre.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_retirement",
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=False),
        sa.Column("retired_by", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_version.id"],
            name=op.f("fk_dataset_retirement_dataset_version_id_dataset_version"),
        ),
        sa.ForeignKeyConstraint(
            ["retired_by"], ["app_user.id"], name=op.f("fk_dataset_retirement_retired_by_app_user")
        ),
        sa.PrimaryKeyConstraint("dataset_version_id", name=op.f("pk_dataset_retirement")),
    )
    refuse_changes("dataset_retirement")


def downgrade() -> None:
    allow_changes("dataset_retirement")
    op.drop_table("dataset_retirement")
