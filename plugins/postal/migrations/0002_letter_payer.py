"""letters: who pays for a letter (the organisation's wallet, or the provider)

Revision ID: 0002_letter_payer
Revises: 0001_postal
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0002_letter_payer"
down_revision = "0001_postal"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("letters") as batch_op:
        batch_op.add_column(
            sa.Column("payer", sa.String(length=16), server_default="wallet", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("letters") as batch_op:
        batch_op.drop_column("payer")
