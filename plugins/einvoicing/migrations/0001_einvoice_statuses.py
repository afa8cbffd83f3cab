"""e-invoice statuses: the lifecycle ("cycle de vie") of each invoice

Revision ID: 0001_einvoice_statuses
Revises:
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0001_einvoice_statuses"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "einvoice_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_einvoice_statuses_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_einvoice_statuses")),
        sa.UniqueConstraint(
            "invoice_id",
            "code",
            "on_date",
            name=op.f("uq_einvoice_statuses_invoice_id_code_on_date"),
        ),
        info={"guichet_plugin": "einvoicing"},
    )
    with op.batch_alter_table("einvoice_statuses") as batch_op:
        batch_op.create_index("ix_einvoice_statuses_invoice", ["invoice_id", "id"])
        batch_op.create_index(
            batch_op.f("ix_einvoice_statuses_organisation_id"), ["organisation_id"]
        )


def downgrade():
    op.drop_table("einvoice_statuses")
