"""stamps: organisations.apps_stamp and memberships.favourites_stamp change with the
app switches and the favourites, so each process keeps what it read until then

Revision ID: 0006_stamps
Revises: 0005_wallet_ledger
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_stamps"
down_revision = "0005_wallet_ledger"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("apps_stamp", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(
            sa.Column("favourites_stamp", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("favourites_stamp")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("apps_stamp")
