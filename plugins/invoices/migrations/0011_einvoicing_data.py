"""what EN 16931 needs that invoices lacked: the buyer's reference, VAT number and
routing address (annuaire, Peppol), the payment terms and means; per line, the VAT
category and the reason of an exemption

Revision ID: 0011_invoices
Revises: 0010_invoices
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_invoices"
down_revision = "0010_invoices"
branch_labels = None
depends_on = None

INVOICE_COLUMNS = (
    ("buyer_reference", sa.String(100)),
    ("payment_terms", sa.Text()),
    ("payment_means", sa.String(3)),
    ("recipient_vat_number", sa.String(20)),
    ("recipient_routing_id", sa.String(100)),
    ("recipient_routing_scheme", sa.String(4)),
)
LINE_COLUMNS = (("vat_category", sa.String(2)), ("vat_exemption_reason", sa.String(300)))


def upgrade():
    for table, columns in (("invoices", INVOICE_COLUMNS), ("invoice_lines", LINE_COLUMNS)):
        with op.batch_alter_table(table) as batch_op:
            for name, kind in columns:
                batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=""))


def downgrade():
    for table, columns in (("invoices", INVOICE_COLUMNS), ("invoice_lines", LINE_COLUMNS)):
        with op.batch_alter_table(table) as batch_op:
            for name, _kind in columns:
                batch_op.drop_column(name)
