"""user_sessions.last_seen_at: when a browser last used its session (the user's page
of sessions shows it)

Revision ID: 0008_session_last_seen
Revises: 0007_two_factor
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0008_session_last_seen"
down_revision = "0007_two_factor"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_column("last_seen_at")
