"""covering indexes: the filtered list's count reads only the index; no index on
organisation_id alone (the others start with it)

Revision ID: 0005_invoices
Revises: 0004_invoices
Create Date: 2026-11-22

"""

from alembic import op

revision = "0005_invoices"
down_revision = "0004_invoices"
branch_labels = None
depends_on = None

BEFORE = {
    "ix_invoices_org_status_due": ["organisation_id", "status", "due_on"],
    "ix_invoices_org_ttc": ["organisation_id", "total_ttc"],
}
AFTER = {
    "ix_invoices_org_status_due": ["organisation_id", "status", "due_on", "issued_on"],
    "ix_invoices_org_ttc": ["organisation_id", "total_ttc", "id", "issued_on"],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        for name, columns in indexes.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)


def upgrade():
    _replace(AFTER)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_organisation_id")


def downgrade():
    _replace(BEFORE)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_organisation_id", ["organisation_id"], unique=False)
