"""Review workflow: users and tokens, encounters and suggestion runs, reviews, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit_log is append-only"


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _choice(name: str, *values: str) -> sa.Enum:
    # A string with a CHECK constraint (ck_<table>_<name>), as app.db.tables declares it.
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", _choice("role", "coder", "admin", "ehr"), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_api_tokens_user_id_users"),
            nullable=False,
        ),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=True),
        sa.Column("revoked_at", _when(), nullable=True),
        sa.Column("last_used_at", _when(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])

    op.create_table(
        "encounters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("setting", _choice("setting", "inpatient", "outpatient"), nullable=True),
        sa.Column("note_text", sa.Text(), nullable=False),
        sa.Column("received_at", _when(), nullable=False),
        sa.Column("status", _choice("status", "new", "in_review", "reviewed"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "claimed_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_encounters_claimed_by_users"),
            nullable=True,
        ),
        sa.Column("claimed_until", _when(), nullable=True),
        sa.UniqueConstraint("external_id", name="uq_encounters_external_id"),
    )
    op.create_index("ix_encounters_received_at", "encounters", ["received_at"])
    op.create_index("ix_encounters_status", "encounters", ["status"])

    op.create_table(
        "suggestion_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "encounter_id",
            sa.Integer(),
            sa.ForeignKey("encounters.id", name="fk_suggestion_runs_encounter_id_encounters"),
            nullable=False,
        ),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("conventions", sa.String(20), nullable=False),
        sa.Column("note_text", sa.Text(), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=False),
    )
    op.create_index("ix_suggestion_runs_encounter_id", "suggestion_runs", ["encounter_id"])
    op.create_index("ix_suggestion_runs_model_version", "suggestion_runs", ["model_version"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "encounter_id",
            sa.Integer(),
            sa.ForeignKey("encounters.id", name="fk_reviews_encounter_id_encounters"),
            nullable=False,
        ),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("suggestion_runs.id", name="fk_reviews_run_id_suggestion_runs"),
            nullable=False,
        ),
        sa.Column(
            "coder_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_reviews_coder_id_users"),
            nullable=False,
        ),
        sa.Column("submitted_at", _when(), nullable=False),
        sa.Column("seconds_spent", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("encounter_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_reviews_encounter_id", "reviews", ["encounter_id"])
    op.create_index("ix_reviews_run_id", "reviews", ["run_id"])
    op.create_index("ix_reviews_coder_id", "reviews", ["coder_id"])

    op.create_table(
        "review_codes",
        sa.Column(
            "review_id",
            sa.Integer(),
            sa.ForeignKey(
                "reviews.id", ondelete="CASCADE", name="fk_review_codes_review_id_reviews"
            ),
            primary_key=True,
        ),
        sa.Column("sequence", sa.Integer(), primary_key=True),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("source", _choice("source", "suggested", "added"), nullable=False),
    )
    op.create_table(
        "review_decisions",
        sa.Column(
            "review_id",
            sa.Integer(),
            sa.ForeignKey(
                "reviews.id", ondelete="CASCADE", name="fk_review_decisions_review_id_reviews"
            ),
            primary_key=True,
        ),
        sa.Column("system", sa.String(16), primary_key=True),
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("decision", _choice("decision", "accepted", "rejected"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", _when(), nullable=False),
        sa.Column(
            "actor_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_audit_log_actor_id_users"),
            nullable=True,
        ),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column(
            "encounter_id",
            sa.Integer(),
            sa.ForeignKey("encounters.id", name="fk_audit_log_encounter_id_encounters"),
            nullable=True,
        ),
        sa.Column("encounter_version", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_encounter_id_at", "audit_log", ["encounter_id", "at"])
    _append_only_audit_log()


def _append_only_audit_log() -> None:
    """The audit log is a record: the database itself refuses to change or remove a row."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN RAISE EXCEPTION '{APPEND_ONLY}: % refused', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log"
            " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
            " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log"
                f" BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {event} refused'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("DROP TRIGGER audit_log_no_update")
    for table in (
        "audit_log",
        "review_decisions",
        "review_codes",
        "reviews",
        "suggestion_runs",
        "encounters",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
