"""sso: an organisation's own OpenID Connect provider

Revision ID: 0014_sso
Revises: 0013_security_keys
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_sso"
down_revision = "0013_security_keys"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sso_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("password_login", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_sso_connections_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_connections")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_sso_connections_organisation_id")),
    )
    op.create_index(
        op.f("ix_sso_connections_organisation_id"), "sso_connections", ["organisation_id"]
    )


def downgrade():
    op.drop_index(op.f("ix_sso_connections_organisation_id"), table_name="sso_connections")
    op.drop_table("sso_connections")
