"""airlock ingress: files researchers bring into a project, sanitized, and their approval

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from wgs_tre.store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATES = ("pending", "admitted", "refused")


def upgrade() -> None:
    op.create_table(
        "ingress_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="ingressstate", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("placed_as", sa.String(length=300), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_ingress_request_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["app_user.id"],
            name=op.f("fk_ingress_request_requester_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["app_user.id"],
            name=op.f("fk_ingress_request_decided_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingress_request")),
        sa.UniqueConstraint("ref", name=op.f("uq_ingress_request_ref")),
    )


def downgrade() -> None:
    op.drop_table("ingress_request")
