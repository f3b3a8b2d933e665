"""airlock output requests: the requests, their files and the stewards' reviews

Reviews are append-only: a verdict, once given, is never changed or removed.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from wgs_tre.store.append_only import allow_changes, refuse_changes
from wgs_tre.store.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATES = (
    "draft",
    "submitted",
    "in_review",
    "changes_requested",
    "approved",
    "rejected",
    "released",
    "withdrawn",
)
VERDICTS = ("approve", "request_changes", "reject")


def upgrade() -> None:
    op.create_table(
        "output_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("workspace", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="outputrequeststate", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_output_request_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["app_user.id"], name=op.f("fk_output_request_requester_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_request")),
        sa.UniqueConstraint("ref", name=op.f("uq_output_request_ref")),
    )
    op.create_table(
        "output_request_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("stored_path", sa.Text(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["output_request.id"],
            name=op.f("fk_output_request_file_request_id_output_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_request_file")),
        sa.UniqueConstraint("request_id", "name", name=op.f("uq_output_request_file_request_id")),
    )
    op.create_table(
        "output_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("steward_id", sa.Integer(), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum(*VERDICTS, name="verdict", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reviewed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["output_request.id"],
            name=op.f("fk_output_review_request_id_output_request"),
        ),
        sa.ForeignKeyConstraint(
            ["steward_id"], ["app_user.id"], name=op.f("fk_output_review_steward_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_review")),
    )
    refuse_changes("output_review")


def downgrade() -> None:
    allow_changes("output_review")
    op.drop_table("output_review")
    op.drop_table("output_request_file")
    op.drop_table("output_request")
