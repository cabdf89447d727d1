"""An index on reviews.submitted_at: analytics read one window of submission days.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_reviews_submitted_at", "reviews", ["submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_reviews_submitted_at", table_name="reviews")
