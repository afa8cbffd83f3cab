"""e-invoices: the files the provider made itself, served instead of the portal's

Revision ID: 0005_provided
Revises: 0004_transmissions
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0005_provided"
down_revision = "0004_transmissions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "einvoice_provided",
        sa.Column("invoice_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("flavor", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_einvoice_provided_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", "flavor", name=op.f("pk_einvoice_provided")),
        info={"guichet_plugin": "einvoicing"},
    )
    with op.batch_alter_table("einvoice_provided") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_einvoice_provided_organisation_id"), ["organisation_id"]
        )


def downgrade():
    op.drop_table("einvoice_provided")
