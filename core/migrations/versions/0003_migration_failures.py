"""migration failures: plugins whose migration failed, kept out until an upgrade succeeds

Revision ID: 0003_migration_failures
Revises: 0002_dashboard
Create Date: 2026-12-01

"""

import sqlalchemy as sa
from alembic import op

revision = "0003_migration_failures"
down_revision = "0002_dashboard"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "migration_failures",
        sa.Column("plugin", sa.String(length=100), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plugin", name=op.f("pk_migration_failures")),
    )


def downgrade():
    op.drop_table("migration_failures")
