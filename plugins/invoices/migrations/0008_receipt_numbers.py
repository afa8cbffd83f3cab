"""the receipts' number sequence belongs to the invoices app, which issues them (it was
the payments app's: its 0002 made it where it runs first)

Revision ID: 0008_invoices
Revises: 0007_invoices
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0008_invoices"
down_revision = "0007_invoices"
branch_labels = None
depends_on = None


def upgrade():
    connection = op.get_bind()
    if sa.inspect(connection).has_table("receipt_numbers"):
        return
    op.create_table(
        "receipt_numbers",
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    # receipts were numbered by their payment's id: the sequence goes on after them
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
    pass  # the sequence of issued receipts is kept: numbers must never be given twice
