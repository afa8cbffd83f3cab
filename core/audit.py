"""Audit trail: every change made by an operator (web or CLI) is recorded."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_login import current_user

from core.extensions import db
from core.models import AuditEvent


def record(
    action: str,
    target: str,
    *,
    organisation_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session (committed with the change it describes).
    The actor is the logged-in user, or ``cli`` outside a request."""
    actor = current_user if has_request_context() and current_user.is_authenticated else None
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else "cli",
        organisation_id=organisation_id,
        action=action,
        target=target,
        before=before,
        after=after,
    )
    db.session.add(event)
    return event


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The values of ``fields`` on ``obj``, for an event's before/after."""
    return {name: getattr(obj, name) for name in fields}
