"""the day an invoice was paid, for statements of account: indexed with what a
statement sums; invoices already paid take the day they were last changed

Revision ID: 0012_invoices
Revises: 0011_invoices
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_invoices"
down_revision = "0011_invoices"
branch_labels = None
depends_on = None

INDEXED = ("organisation_id", "paid_on", "id", "currency", "total_ttc", "credited", "account_id")


def upgrade():
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
    day = "date(updated_at)" if op.get_bind().dialect.name == "sqlite" else "updated_at::date"
    op.execute(f"UPDATE invoices SET paid_on = {day} WHERE status = 'paid' AND kind = 'invoice'")
    op.create_index(
        "ix_invoices_org_paid",
        "invoices",
        list(INDEXED),
        sqlite_where=sa.text("paid_on IS NOT NULL"),
        postgresql_where=sa.text("paid_on IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_invoices_org_paid", table_name="invoices")
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.drop_column("paid_on")
