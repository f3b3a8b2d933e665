"""airlock: a notebook in an output request whose outputs are what the stewards review

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("output_request_file") as table:
        table.add_column(
            sa.Column("keep_outputs", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("output_request_file") as table:
        table.drop_column("keep_outputs")
