"""receipts are numbered in one unbroken sequence per prefix

Revision ID: 0002_payments
Revises: 0001_payments
Create Date: 2026-12-02

"""

import sqlalchemy as sa
from alembic import op

revision = "0002_payments"
down_revision = "0001_payments"
branch_labels = None
depends_on = None


def upgrade():
    if sa.inspect(op.get_bind()).has_table("receipt_numbers"):
        return  # the invoices app's history made it (its 0008): receipts are its own now
    op.create_table(
        "receipt_numbers",
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    # receipts were numbered by their payment's id: the sequence goes on after them
    connection = op.get_bind()
    if sa.inspect(connection).has_table("invoices"):
        numbers = connection.execute(
            sa.text("SELECT number FROM invoices WHERE number LIKE 'RC-%'")
        ).scalars()
        last = max((int(n[3:]) for n in numbers if n[3:].isdigit()), default=0)
        if last:
            connection.execute(
                sa.text("INSERT INTO receipt_numbers (prefix, last) VALUES ('RC-', :last)"),
                {"last": last},
            )


def downgrade():
    pass  # the table is the invoices app's now
