"""Audit trail: every change made by an operator (web or CLI) is recorded, and what
customers do that their organisation may see (:mod:`core.activity`)."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from core.extensions import db
from core.models import AuditEvent, User


def record(
    action: str,
    target: str,
    *,
    organisation_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: User | None = None,
) -> AuditEvent:
    """Add an audit event to the session (committed with the change it describes).
    The actor is ``actor``, else the logged-in user, or ``cli`` outside a request;
    in a request, the event keeps the client's address and device (the activity
    trail shows them, :mod:`core.activity`)."""
    from core.activity import device_of, kind_of

    in_request = has_request_context()
    if actor is None and in_request and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else "cli",
        organisation_id=organisation_id,
        action=action,
        target=target,
        before=before,
        after=after,
        kind=kind_of(action),
        ip=(request.remote_addr or "")[:45] if in_request else "",
        device=device_of(request.headers.get("User-Agent", "")) if in_request else "",
    )
    db.session.add(event)
    return event


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The values of ``fields`` on ``obj``, for an event's before/after."""
    return {name: getattr(obj, name) for name in fields}
