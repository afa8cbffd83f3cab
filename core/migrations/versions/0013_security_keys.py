"""security keys: WebAuthn security keys and passkeys, a second factor beside the
authenticator app

Revision ID: 0013_security_keys
Revises: 0012_sealed_totp
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0013_security_keys"
down_revision = "0012_sealed_totp"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "security_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=255), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_security_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_keys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_security_keys_credential_id")),
    )
    op.create_index(op.f("ix_security_keys_user_id"), "security_keys", ["user_id"])


def downgrade():
    op.drop_index(op.f("ix_security_keys_user_id"), table_name="security_keys")
    op.drop_table("security_keys")
