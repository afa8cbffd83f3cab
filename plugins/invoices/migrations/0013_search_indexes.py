"""the invoices of an organisation by subscriber and by currency (the search and the
statement read the names and currencies an organisation bills along them, not its
invoices; the currencies' index on PostgreSQL only: on SQLite it holds no row), and
numbers by prefix on PostgreSQL whatever its collation (an index of the pattern
operators; on SQLite it holds no row either)

Revision ID: 0013_invoices
Revises: 0012_invoices
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0013_invoices"
down_revision = "0012_invoices"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_invoices_org_subscriber", "invoices", ["organisation_id", "subscriber"])
    op.create_index(
        "ix_invoices_org_currency",
        "invoices",
        ["organisation_id", "currency"],
        sqlite_where=sa.text("0"),
    )
    op.create_index(
        "ix_invoices_number_pattern",
        "invoices",
        ["number"],
        postgresql_ops={"number": "varchar_pattern_ops"},
        sqlite_where=sa.text("0"),
    )


def downgrade():
    op.drop_index("ix_invoices_number_pattern", table_name="invoices")
    op.drop_index("ix_invoices_org_currency", table_name="invoices")
    op.drop_index("ix_invoices_org_subscriber", table_name="invoices")
