"""audit events waiting to be chained, and the function that chains them (PostgreSQL)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Runs with its owner's rights (SECURITY DEFINER): the runtime role may insert into
# audit_pending but not delete from it, so the only way an event leaves it is into the chain,
# at the next seq, linked to the head. The caller computes the hashes (canonical JSON is
# Python's); a wrong one shows at the next verify as an edited event, named.
SEAL = """
CREATE FUNCTION audit_seal(expected_seq bigint, ids bigint[], hashes text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    sealed integer;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    IF head_seq IS DISTINCT FROM expected_seq THEN
        RAISE EXCEPTION 'audit_seal: the head is at event %, not %', head_seq, expected_seq;
    END IF;
    IF cardinality(ids) IS DISTINCT FROM cardinality(hashes) OR cardinality(ids) = 0 THEN
        RAISE EXCEPTION 'audit_seal: % events but % hashes', cardinality(ids), cardinality(hashes);
    END IF;
    INSERT INTO audit_event
        (seq, time, actor, action, project, dataset, decision, reason, details, prev_hash, hash)
    SELECT head_seq + t.n, p.time, p.actor, p.action, p.project, p.dataset, p.decision,
           p.reason, p.details, CASE WHEN t.n = 1 THEN head_hash ELSE hashes[t.n - 1] END,
           t.hash
    FROM unnest(ids, hashes) WITH ORDINALITY AS t(id, hash, n)
    JOIN audit_pending p ON p.id = t.id
    ORDER BY t.n;
    GET DIAGNOSTICS sealed = ROW_COUNT;
    IF sealed <> cardinality(ids) THEN
        RAISE EXCEPTION 'audit_seal: % of % events are not waiting', cardinality(ids) - sealed,
            cardinality(ids);
    END IF;
    DELETE FROM audit_pending WHERE id = ANY(ids);
    UPDATE audit_head SET seq = head_seq + sealed, hash = hashes[sealed] WHERE id = 1;
    RETURN sealed;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("time", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=40), nullable=True),
        sa.Column("dataset", sa.String(length=120), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEAL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_seal(bigint, bigint[], text[])")
    op.drop_table("audit_pending")
