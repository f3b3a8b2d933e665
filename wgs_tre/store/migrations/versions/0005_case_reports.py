"""case reports: hospitals' cases, their reports' review state, versions and notes

Versions and notes are append-only: a signed-off version cannot change, a new one is a new row.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from wgs_tre.store.append_only import allow_changes, refuse_changes
from wgs_tre.store.models import UTCDateTime

APPEND_ONLY = ("report_note", "report_version")

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinical_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("hospital_patient_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("rare_disease", "cancer", name="casekind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("diagnosis", sa.String(length=16), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["organisation.id"],
            name=op.f("fk_clinical_case_hospital_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_clinical_case_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"], ["app_user.id"], name=op.f("fk_clinical_case_registered_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_case")),
        sa.UniqueConstraint(
            "hospital_id", "hospital_patient_id", name=op.f("uq_clinical_case_hospital_id")
        ),
        sa.UniqueConstraint("participant_id", name=op.f("uq_clinical_case_participant_id")),
        sa.UniqueConstraint("ref", name=op.f("uq_clinical_case_ref")),
    )
    op.create_table(
        "case_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "in_review",
                "returned",
                "revised",
                "signed_off",
                name="reportstate",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["clinical_case.id"], name=op.f("fk_case_report_case_id_clinical_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_report")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_report_case_id")),
    )
    op.create_table(
        "report_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["app_user.id"], name=op.f("fk_report_note_author_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["case_report.id"], name=op.f("fk_report_note_report_id_case_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_note")),
    )
    op.create_table(
        "report_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_report_version_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["case_report.id"], name=op.f("fk_report_version_report_id_case_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_version")),
        sa.UniqueConstraint("report_id", "number", name=op.f("uq_report_version_report_id")),
    )
    for table in APPEND_ONLY:
        refuse_changes(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        allow_changes(table)
    op.drop_table("report_version")
    op.drop_table("report_note")
    op.drop_table("case_report")
    op.drop_table("clinical_case")
