"""a credit note names the invoice it cancels; an invoice keeps the sum of its credit
notes; the mentions printed on a document

Revision ID: 0007_invoices
Revises: 0006_invoices
Create Date: 2026-12-02

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_invoices"
down_revision = "0006_invoices"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancels", sa.String(32), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("credited", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    op.create_index(
        "ix_invoices_cancels",
        "invoices",
        ["cancels"],
        unique=False,
        sqlite_where=sa.text("cancels != ''"),
        postgresql_where=sa.text("cancels != ''"),
    )


def downgrade():
    op.drop_index("ix_invoices_cancels", table_name="invoices")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("notes")
        batch_op.drop_column("credited")
        batch_op.drop_column("cancels")
