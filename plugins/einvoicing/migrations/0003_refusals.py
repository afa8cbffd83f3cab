"""e-invoices: the invoices that cannot be had as e-invoices, and why

Revision ID: 0003_refusals
Revises: 0002_status_filter
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0003_refusals"
down_revision = "0002_status_filter"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "einvoice_refusals",
        sa.Column("invoice_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_einvoice_refusals_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_einvoice_refusals")),
        info={"guichet_plugin": "einvoicing"},
    )
    with op.batch_alter_table("einvoice_refusals") as batch_op:
        batch_op.create_index("ix_einvoice_refusals_checked", ["checked_at"])
        batch_op.create_index(
            batch_op.f("ix_einvoice_refusals_organisation_id"), ["organisation_id"]
        )


def downgrade():
    op.drop_table("einvoice_refusals")
