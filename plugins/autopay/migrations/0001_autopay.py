"""autopay: the organisations' customers at the provider, their SEPA mandates, the
accounts paid automatically, one charge per invoice and attempt, the wallet's
automatic top-ups

Revision ID: 0001_autopay
Revises:
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0001_autopay"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "autopay_customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_autopay_customers_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_customers")),
        sa.UniqueConstraint(
            "organisation_id",
            "provider",
            name=op.f("uq_autopay_customers_organisation_id_provider"),
        ),
        info={"guichet_plugin": "autopay"},
    )
    with op.batch_alter_table("autopay_customers") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autopay_customers_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "autopay_mandates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("signatory", sa.String(length=200), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_autopay_mandates_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signed_by"],
            ["users.id"],
            name=op.f("fk_autopay_mandates_signed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_mandates")),
        sa.UniqueConstraint(
            "provider", "provider_id", name=op.f("uq_autopay_mandates_provider_provider_id")
        ),
        info={"guichet_plugin": "autopay"},
    )
    with op.batch_alter_table("autopay_mandates") as batch_op:
        batch_op.create_index("ix_autopay_mandates_org_id", ["organisation_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_autopay_mandates_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "autopay_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("chosen_by", sa.Integer(), nullable=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_autopay_accounts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chosen_by"],
            ["users.id"],
            name=op.f("fk_autopay_accounts_chosen_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["autopay_mandates.id"],
            name=op.f("fk_autopay_accounts_mandate_id_autopay_mandates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_autopay_accounts_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_accounts")),
        sa.UniqueConstraint("account_id", name=op.f("uq_autopay_accounts_account_id")),
        info={"guichet_plugin": "autopay"},
    )
    with op.batch_alter_table("autopay_accounts") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autopay_accounts_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_autopay_accounts_mandate_id"), ["mandate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_autopay_accounts_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "autopay_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("charge_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("notice", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_autopay_charges_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["autopay_mandates.id"],
            name=op.f("fk_autopay_charges_mandate_id_autopay_mandates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_autopay_charges_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_charges")),
        sa.UniqueConstraint(
            "invoice_id", "attempt", name=op.f("uq_autopay_charges_invoice_id_attempt")
        ),
        info={"guichet_plugin": "autopay"},
    )
    with op.batch_alter_table("autopay_charges") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autopay_charges_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index("ix_autopay_charges_org_id", ["organisation_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_autopay_charges_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_autopay_charges_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index("ix_autopay_charges_state_day", ["state", "charge_on"], unique=False)
    op.create_table(
        "autopay_topups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["autopay_mandates.id"],
            name=op.f("fk_autopay_topups_mandate_id_autopay_mandates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_autopay_topups_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_topups")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_autopay_topups_entry_id")),
        info={"guichet_plugin": "autopay"},
    )
    with op.batch_alter_table("autopay_topups") as batch_op:
        batch_op.create_index("ix_autopay_topups_org_id", ["organisation_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_autopay_topups_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_autopay_topups_payment_id"), ["payment_id"], unique=False
        )


def downgrade():
    for table in (
        "autopay_topups",
        "autopay_charges",
        "autopay_accounts",
        "autopay_mandates",
        "autopay_customers",
    ):
        op.drop_table(table)
