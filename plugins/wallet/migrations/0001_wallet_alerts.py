"""wallet: the alert of each debit that took the balance below the threshold

Revision ID: 0001_wallet_alerts
Revises:
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0001_wallet_alerts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wallet_alerts",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["wallet_entries.id"],
            name=op.f("fk_wallet_alerts_entry_id_wallet_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_wallet_alerts_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_wallet_alerts")),
        info={"guichet_plugin": "wallet"},
    )
    with op.batch_alter_table("wallet_alerts") as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_alerts_organisation_id"), ["organisation_id"])


def downgrade():
    op.drop_table("wallet_alerts")
