"""A plugin's first revision, in its own history."""

import sqlalchemy as sa
from alembic import op

revision = "0001_sample"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sample_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("sample_notes")
