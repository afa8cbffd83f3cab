"""two-factor authentication: users' authenticator apps (TOTP) and recovery codes,
whether a user has a second factor, whether an organisation requires one

Revision ID: 0007_two_factor
Revises: 0006_stamps
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_two_factor"
down_revision = "0006_stamps"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("two_factor", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("require_2fa", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "user_totp",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_totp_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_totp")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes") as batch:
        batch.create_index(batch.f("ix_recovery_codes_user_id"), ["user_id"])


def downgrade():
    op.drop_table("recovery_codes")
    op.drop_table("user_totp")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("require_2fa")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("two_factor")
