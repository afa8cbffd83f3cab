"""attachment format: each address chooses the PDF, the Factur-X or both

Revision ID: 0002_attachment_format
Revises: 0001_notifications
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0002_attachment_format"
down_revision = "0001_notifications"
branch_labels = None
depends_on = None

TABLES = ("notification_subscriptions", "notification_deliveries")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "attachment_format", sa.String(length=16), server_default="pdf", nullable=False
                )
            )


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("attachment_format")
