"""A plugin's first revision that fails (it reads a table nobody created)."""

from alembic import op

revision = "0001_broken"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SELECT missing_column FROM no_such_table")


def downgrade():
    pass
