"""PostgreSQL: audit events committed first, chained just after (the audit inbox)

With migration 0004 each appender locked the head row until its transaction committed, so
writers queued behind one another's disk flush (about 600 events/s with 8 writers). Now an
event is written to ``audit_pending`` in the caller's transaction (``audit_submit``): commits
overlap and PostgreSQL flushes them together. Right after, the caller runs ``audit_chain``:
under one advisory lock it takes every committed pending event in id order, renders and hashes
it exactly as migration 0004 did, moves it into ``audit_event`` and moves the head, all in one
transaction. An event is durable when its own transaction commits (synchronously). The chaining
transaction may commit without waiting for the disk: a crash can only undo chaining, which
leaves its events pending, to be chained again by the next call; ``audit_chain(durable =>
true)``, run before a verify, an export or a signed checkpoint, waits for the flush of all of it.

Both functions run with their owner's rights (the migration role): the runtime role may add
events only through ``audit_submit`` and cannot write ``audit_event`` or the head itself.
SQLite keeps appending chained events directly: its writers are serialized anyway.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SUBMIT = "audit_submit(text, text, text, text, text, text, text, text)"
CHAIN = "audit_chain(bigint, boolean)"
APPEND = "audit_append(text, text, text, text, text, text, text, text)"  # 0004, now unused
# pg_advisory_xact_lock keys: one chainer at a time; governed transactions, one at a time
CHAIN_LOCK = 7_466_011_297

FUNCTIONS = r"""
CREATE FUNCTION audit_submit(
    p_time text, p_actor text, p_action text, p_project text, p_dataset text,
    p_decision text, p_reason text, p_details text
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head_seq bigint;
    last_seq bigint;
    pending_id bigint;
BEGIN
    -- one statement, one snapshot (a chainer moves events and head in one commit); max() is
    -- read from the end of the primary key's index
    SELECT h.seq, (SELECT max(e.seq) FROM audit_event e) INTO head_seq, last_seq
    FROM audit_head h WHERE h.id = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the audit log''s head row is missing' USING ERRCODE = 'no_data_found';
    END IF;
    -- nothing could chain while an event sits beyond the head: refuse before the caller's
    -- change commits, not after
    IF last_seq > head_seq THEN
        RAISE EXCEPTION 'an audit event lies beyond the head' USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO audit_pending (time, actor, action, project, dataset, decision, reason, details)
    VALUES (p_time, p_actor, p_action, p_project, p_dataset, p_decision, p_reason, p_details)
    RETURNING id INTO pending_id;
    RETURN pending_id;
END $$;

CREATE FUNCTION audit_chain(p_after_id bigint, p_durable boolean)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    prev_hash text;
    event record;
    chained bigint := 0;
BEGIN
    -- the caller's own event, already chained by someone else: nothing to wait for
    IF NOT p_durable AND p_after_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM audit_pending WHERE id = p_after_id) THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(CHAIN_LOCK_KEY);
    IF NOT p_durable THEN
        SET LOCAL synchronous_commit = off;
    END IF;
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_head h WHERE h.id = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the audit log''s head row is missing' USING ERRCODE = 'no_data_found';
    END IF;
    -- this statement's snapshot is taken after the lock: it sees what earlier chainers did
    FOR event IN SELECT * FROM audit_pending ORDER BY id LOOP
        prev_hash := head_hash;
        head_seq := head_seq + 1;
        head_hash := encode(sha256(convert_to(
            '{"action":' || to_json(event.action)::text
            || ',"actor":' || to_json(event.actor)::text
            || ',"dataset":' || coalesce(to_json(event.dataset)::text, 'null')
            || ',"decision":' || to_json(event.decision)::text
            || ',"details":' || to_json(event.details)::text
            || ',"prev_hash":' || to_json(prev_hash)::text
            || ',"project":' || coalesce(to_json(event.project)::text, 'null')
            || ',"reason":' || to_json(event.reason)::text
            || ',"seq":' || head_seq::text
            || ',"time":' || to_json(event.time)::text
            || '}', 'UTF8')), 'hex');
        INSERT INTO audit_event
            (seq, time, actor, action, project, dataset, decision, reason, details, prev_hash,
             hash)
        VALUES (head_seq, event.time, event.actor, event.action, event.project, event.dataset,
                event.decision, event.reason, event.details, prev_hash, head_hash);
        DELETE FROM audit_pending WHERE id = event.id;
        chained := chained + 1;
    END LOOP;
    -- durable: a write of our own, so this commit waits for the flush of every chaining before
    IF chained > 0 OR p_durable THEN
        UPDATE audit_head SET seq = head_seq, hash = head_hash WHERE id = 1;
    END IF;
    RETURN chained;
END $$;
""".replace("CHAIN_LOCK_KEY", str(CHAIN_LOCK))


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
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTIONS)
    for signature in (SUBMIT, CHAIN, APPEND):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {CHAIN}")
        op.execute(f"DROP FUNCTION {SUBMIT}")
    op.drop_table("audit_pending")
