"""no index on account_id alone: (account_id, issued_on) starts with it

Revision ID: 0006_invoices
Revises: 0005_invoices
Create Date: 2026-11-22

"""

from alembic import op

revision = "0006_invoices"
down_revision = "0005_invoices"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_account_id")


def downgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_account_id", ["account_id"], unique=False)
