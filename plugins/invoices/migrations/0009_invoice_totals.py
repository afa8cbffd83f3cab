"""what is still to pay, kept per account, month of issue and currency, for the widget

Revision ID: 0009_invoices
Revises: 0008_invoices
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_invoices"
down_revision = "0008_invoices"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invoice_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("to_pay_count", sa.Integer(), nullable=False),
        sa.Column("to_pay_amount", sa.BigInteger(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_invoice_totals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_invoice_totals_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_totals")),
        sa.UniqueConstraint(
            "account_id",
            "month",
            "currency",
            name=op.f("uq_invoice_totals_account_id_month_currency"),
        ),
    )
    op.create_index("ix_invoice_totals_org_month", "invoice_totals", ["organisation_id", "month"])
    op.create_index(op.f("ix_invoice_totals_account_id"), "invoice_totals", ["account_id"])
    op.create_index(
        op.f("ix_invoice_totals_organisation_id"), "invoice_totals", ["organisation_id"]
    )
    # the totals of the invoices already there
    connection = op.get_bind()
    month = (
        "CAST(date_trunc('month', issued_on) AS DATE)"
        if connection.dialect.name == "postgresql"
        else "date(issued_on, 'start of month')"
    )
    connection.execute(
        sa.text(
            "INSERT INTO invoice_totals "
            "(organisation_id, account_id, month, currency, to_pay_count, to_pay_amount) "
            f"SELECT organisation_id, account_id, {month}, currency, count(*), "
            "sum(total_ttc + credited) FROM invoices "
            "WHERE kind = 'invoice' AND status = 'to_pay' AND total_ttc + credited > 0 "
            f"GROUP BY organisation_id, account_id, {month}, currency"
        )
    )


def downgrade():
    op.drop_table("invoice_totals")
