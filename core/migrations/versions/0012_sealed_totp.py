"""sealed totp: an authenticator app's secret is kept encrypted (core.sealing), longer
than the secret itself

Revision ID: 0012_sealed_totp
Revises: 0011_activity
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_sealed_totp"
down_revision = "0011_activity"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_totp") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )


def downgrade():
    with op.batch_alter_table("user_totp") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
