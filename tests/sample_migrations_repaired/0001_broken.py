"""The failing revision of ``sample_migrations_broken``, repaired."""

import sqlalchemy as sa
from alembic import op

revision = "0001_broken"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("repaired_notes", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("repaired_notes")
