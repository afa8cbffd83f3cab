"""activity: the audit events a customer sees, with their kind, address and device

Revision ID: 0011_activity
Revises: 0010_member_access
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_activity"
down_revision = "0010_member_access"
branch_labels = None
depends_on = None

TRAIL = sa.text("kind != 'other'")  # not the operators' own events


def upgrade():
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), server_default="other", nullable=False)
        )
        batch.add_column(sa.Column("ip", sa.String(length=45), server_default="", nullable=False))
        batch.add_column(
            sa.Column("device", sa.String(length=120), server_default="", nullable=False)
        )
    op.create_index(
        "ix_audit_events_trail",
        "audit_events",
        ["organisation_id", "id"],
        sqlite_where=TRAIL,
        postgresql_where=TRAIL,
    )
    op.create_index("ix_audit_events_trail_kind", "audit_events", ["organisation_id", "kind", "id"])
    op.create_index(
        "ix_audit_events_trail_actor",
        "audit_events",
        ["organisation_id", "actor_id", "id"],
        sqlite_where=TRAIL,
        postgresql_where=TRAIL,
    )
    op.create_index(
        "ix_audit_events_trail_actor_kind",
        "audit_events",
        ["organisation_id", "actor_id", "kind", "id"],
    )


def downgrade():
    for name in (
        "ix_audit_events_trail_actor_kind",
        "ix_audit_events_trail_actor",
        "ix_audit_events_trail_kind",
        "ix_audit_events_trail",
    ):
        op.drop_index(name, table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("device")
        batch.drop_column("ip")
        batch.drop_column("kind")
