"""e-invoices: their transmissions through an approved platform, and how far its
statuses were read

Revision ID: 0004_transmissions
Revises: 0003_refusals
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0004_transmissions"
down_revision = "0003_refusals"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "einvoice_transmissions",
        sa.Column("invoice_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_einvoice_transmissions_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_einvoice_transmissions")),
        info={"guichet_plugin": "einvoicing"},
    )
    with op.batch_alter_table("einvoice_transmissions") as batch_op:
        batch_op.create_index("ix_einvoice_transmissions_state", ["state", "updated_at"])
        batch_op.create_index(
            batch_op.f("ix_einvoice_transmissions_organisation_id"), ["organisation_id"]
        )
    op.create_table(
        "einvoice_platform_cursors",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_einvoice_platform_cursors")),
        info={"guichet_plugin": "einvoicing"},
    )


def downgrade():
    op.drop_table("einvoice_platform_cursors")
    op.drop_table("einvoice_transmissions")
