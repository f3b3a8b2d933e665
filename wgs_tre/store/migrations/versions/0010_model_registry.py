"""models: the prognosis model registry and the dataset versions each model was trained on

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from wgs_tre.store.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("saved_by_id", sa.Integer(), nullable=False),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.Column("data_read_at", UTCDateTime(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("code_version", sa.Text(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_registered_model_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["saved_by_id"], ["app_user.id"], name=op.f("fk_registered_model_saved_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_model")),
        sa.UniqueConstraint("ref", name=op.f("uq_registered_model_ref")),
    )
    op.create_table(
        "registered_model_dataset",
        sa.Column("registered_model_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registered_model_id"],
            ["registered_model.id"],
            name=op.f("fk_registered_model_dataset_registered_model_id_registered_model"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_version.id"],
            name=op.f("fk_registered_model_dataset_dataset_version_id_dataset_version"),
        ),
        sa.PrimaryKeyConstraint(
            "registered_model_id",
            "dataset_version_id",
            name=op.f("pk_registered_model_dataset"),
        ),
    )


def downgrade() -> None:
    op.drop_table("registered_model_dataset")
    op.drop_table("registered_model")
