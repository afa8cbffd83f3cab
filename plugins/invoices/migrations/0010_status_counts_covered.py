"""the count of a status filter reads only the index: what is left to pay
(total_ttc + credited) joins the status index

Revision ID: 0010_invoices
Revises: 0009_invoices
Create Date: 2026-12-06

"""

from alembic import op

revision = "0010_invoices"
down_revision = "0009_invoices"
branch_labels = None
depends_on = None

NAME = "ix_invoices_org_status_due"
BEFORE = ["organisation_id", "status", "due_on", "issued_on"]
AFTER = [*BEFORE, "total_ttc", "credited"]


def _replace(columns: list[str]) -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(NAME, columns, unique=False)


def upgrade():
    _replace(AFTER)


def downgrade():
    _replace(BEFORE)
