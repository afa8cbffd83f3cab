"""failed tasks: the job queue's dead letters

Revision ID: 0015_failed_tasks
Revises: 0014_sso
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_failed_tasks"
down_revision = "0014_sso"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "failed_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retried_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["retried_by_id"],
            ["users.id"],
            name=op.f("fk_failed_tasks_retried_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_tasks")),
    )
    op.create_index(op.f("ix_failed_tasks_failed_at"), "failed_tasks", ["failed_at"])


def downgrade():
    op.drop_index(op.f("ix_failed_tasks_failed_at"), table_name="failed_tasks")
    op.drop_table("failed_tasks")
