"""reminders: one row per invoice and step of the schedule

Revision ID: 0001_reminders
Revises:
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0001_reminders"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_reminders_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_reminders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("invoice_id", "days", name=op.f("uq_reminders_invoice_id_days")),
        info={"guichet_plugin": "reminders"},
    )
    with op.batch_alter_table("reminders") as batch_op:
        batch_op.create_index("ix_reminders_org_id", ["organisation_id", "id"])
        batch_op.create_index("ix_reminders_state", ["state", "updated_at"])
        batch_op.create_index(batch_op.f("ix_reminders_organisation_id"), ["organisation_id"])
        batch_op.create_index(batch_op.f("ix_reminders_account_id"), ["account_id"])


def downgrade():
    op.drop_table("reminders")
