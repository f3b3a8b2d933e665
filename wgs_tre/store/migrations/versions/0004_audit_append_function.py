"""PostgreSQL: audit_append(), an audit event appended in one round trip

The appender locked the head, inserted the event and moved the head in three statements, each a
round trip while the head's lock was held, so every writer waited for them all. This function
does the three in the server: it locks the head, renders the event's canonical JSON exactly as
``wgs_tre.audit.chain.canonical_json`` does (keys in alphabetical order, no whitespace; to_json
escapes strings as orjson does: ", \\, \\b \\f \\n \\r \\t, other control characters as
\\u00xx, the rest verbatim), hashes it with sha256(), inserts the event and moves the head. It
runs with the caller's rights, in the caller's transaction. SQLite keeps the three statements:
they cost no round trip there.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SIGNATURE = "audit_append(text, text, text, text, text, text, text, text)"
# Frozen with this revision: the canonical form of an event never changes.
APPEND = r"""
CREATE FUNCTION audit_append(
    p_time text, p_actor text, p_action text, p_project text, p_dataset text,
    p_decision text, p_reason text, p_details text,
    OUT new_seq bigint, OUT new_prev_hash text, OUT new_hash text
) LANGUAGE plpgsql AS $$
BEGIN
    SELECT h.seq + 1, h.hash INTO new_seq, new_prev_hash
    FROM audit_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the audit log''s head row is missing' USING ERRCODE = 'no_data_found';
    END IF;
    new_hash := encode(sha256(convert_to(
        '{"action":' || to_json(p_action)::text
        || ',"actor":' || to_json(p_actor)::text
        || ',"dataset":' || coalesce(to_json(p_dataset)::text, 'null')
        || ',"decision":' || to_json(p_decision)::text
        || ',"details":' || to_json(p_details)::text
        || ',"prev_hash":' || to_json(new_prev_hash)::text
        || ',"project":' || coalesce(to_json(p_project)::text, 'null')
        || ',"reason":' || to_json(p_reason)::text
        || ',"seq":' || new_seq::text
        || ',"time":' || to_json(p_time)::text
        || '}', 'UTF8')), 'hex');
    INSERT INTO audit_event
        (seq, time, actor, action, project, dataset, decision, reason, details, prev_hash, hash)
    VALUES (new_seq, p_time, p_actor, p_action, p_project, p_dataset, p_decision, p_reason,
            p_details, new_prev_hash, new_hash);
    UPDATE audit_head SET seq = new_seq, hash = new_hash WHERE id = 1;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)
        # Only the roles granted it (wgs_tre.store.roles: the runtime role) may call it.
        op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {SIGNATURE}")
