"""dataset participants and per-project pseudonym keys

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from wgs_tre.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_participant",
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_version.id"],
            name=op.f("fk_dataset_participant_dataset_version_id_dataset_version"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_dataset_participant_participant_id_participant"),
        ),
        sa.PrimaryKeyConstraint(
            "dataset_version_id", "participant_id", name=op.f("pk_dataset_participant")
        ),
    )
    op.create_index(
        op.f("ix_dataset_participant_participant_id"),
        "dataset_participant",
        ["participant_id"],
        unique=False,
    )
    op.create_table(
        "project_key",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_project_key_project_id_project")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_key")),
    )


def downgrade() -> None:
    op.drop_table("project_key")
    op.drop_index(op.f("ix_dataset_participant_participant_id"), table_name="dataset_participant")
    op.drop_table("dataset_participant")
