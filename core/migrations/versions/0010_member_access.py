"""member access: the apps an organisation's admin lets a member use, and a member's
suspension

Revision ID: 0010_member_access
Revises: 0009_invitations
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_member_access"
down_revision = "0009_invitations"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("apps", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("apps")
