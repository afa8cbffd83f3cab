"""the wallet ledger becomes a core money service: its tables move from the wallet
app's history to the core's

Revision ID: 0005_wallet_ledger
Revises: 0004_user_sessions
Create Date: 2026-12-06

An installation whose wallet history created them already keeps them as they are;
a new one gets them here (the wallet's own 0001 then does nothing).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_wallet_ledger"
down_revision = "0004_user_sessions"
branch_labels = None
depends_on = None


def upgrade():
    if sa.inspect(op.get_bind()).has_table("wallets"):
        return
    op.create_table(
        "wallet_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_wallet_entries_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_wallet_entries_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_wallet_entries_key")),
    )
    op.create_index("ix_wallet_entries_org_id", "wallet_entries", ["organisation_id", "id"])
    op.create_index(
        op.f("ix_wallet_entries_organisation_id"), "wallet_entries", ["organisation_id"]
    )
    op.create_table(
        "wallets",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_wallets_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_wallets")),
    )


def downgrade():
    pass  # the ledger's entries are accounting records: never dropped by a downgrade
