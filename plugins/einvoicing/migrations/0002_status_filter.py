"""e-invoice statuses: an index for the invoice list's lifecycle filter

Revision ID: 0002_status_filter
Revises: 0001_einvoice_statuses
Create Date: 2026-12-07

"""

from alembic import op

revision = "0002_status_filter"
down_revision = "0001_einvoice_statuses"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("einvoice_statuses") as batch_op:
        batch_op.create_index(
            "ix_einvoice_statuses_org_code", ["organisation_id", "code", "invoice_id", "id"]
        )


def downgrade():
    with op.batch_alter_table("einvoice_statuses") as batch_op:
        batch_op.drop_index("ix_einvoice_statuses_org_code")
