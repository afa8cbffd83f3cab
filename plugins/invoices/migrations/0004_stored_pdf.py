"""the provider's stored PDF

Revision ID: 0004_invoices
Revises: 0003_invoices
Create Date: 2026-11-22

"""

import sqlalchemy as sa
from alembic import op

revision = "0004_invoices"
down_revision = "0003_invoices"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pdf_sha256", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("pdf_sha256")
