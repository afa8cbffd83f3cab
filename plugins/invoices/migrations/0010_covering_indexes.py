"""covering indexes for an organisation with millions of invoices: the count of a status
filter, a deep page of an amount filter and the widget's first month read only the
index (what is left to pay, total_ttc + credited, the status, kind and currency join them)

Revision ID: 0010_invoices
Revises: 0009_invoices
Create Date: 2026-12-06

"""

from alembic import op

revision = "0010_invoices"
down_revision = "0009_invoices"
branch_labels = None
depends_on = None

BEFORE = {
    "ix_invoices_org_status_due": ["organisation_id", "status", "due_on", "issued_on"],
    "ix_invoices_org_issued": ["organisation_id", "issued_on", "id"],
}
AFTER = {
    "ix_invoices_org_status_due": [*BEFORE["ix_invoices_org_status_due"], "total_ttc", "credited"],
    "ix_invoices_org_issued": [
        *BEFORE["ix_invoices_org_issued"],
        *("status", "total_ttc", "credited", "currency", "kind"),
    ],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        for name, columns in indexes.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)


def upgrade():
    _replace(AFTER)


def downgrade():
    _replace(BEFORE)
