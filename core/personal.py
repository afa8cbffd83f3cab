"""A user's personal data, for their right of access: ``/mes-donnees.json`` gives the
profile, memberships, sessions, second factor and the user's own activity in the
audit trail, and what each plugin keeps about them (``guichet_personal_data``), under
the plugin's name. For their right to erasure, an operator erases a user
(:func:`erase`): the person is gone, the accounting records stay."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, current_app
from flask_login import current_user, login_required
from sqlalchemy import delete, select, update

from core import audit
from core.appsystem import registry
from core.extensions import db, limiter
from core.models import AuditEvent, SecurityKey, User, UserSession, utcnow

bp = Blueprint("personal", __name__)
ACTIVITY = 5000  # the user's latest audit events exported


def collect(user: User) -> dict[str, Any]:
    """Everything the portal keeps about ``user``, as a JSON-ready dict."""
    sessions = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id))
    activity = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.actor_id == user.id)
        .order_by(AuditEvent.id.desc())
        .limit(ACTIVITY)
    )
    apps = {}
    for impl in registry(current_app).pm.hook.guichet_personal_data.get_hookimpls():
        answer = impl.function(*[{"user": user}[name] for name in impl.argnames])
        if answer:
            apps[impl.plugin_name] = answer
    return {
        "exported_at": utcnow(),
        "profile": {
            "email": user.email,
            "name": user.name,
            "language": user.locale,
            "created_at": user.created_at,
            "last_login_at": user.last_login_at,
            "operator": user.is_operator,
            "second_factor": user.two_factor,
        },
        "memberships": [
            {
                "organisation": m.organisation.name,
                "role": m.role,
                "accounts": [a.client_code for a in m.accounts] or "all",
            }
            for m in user.memberships
        ],
        "security_keys": [
            {"name": k.name, "added": k.created_at, "last_used": k.last_used_at}
            for k in db.session.scalars(select(SecurityKey).where(SecurityKey.user_id == user.id))
        ],
        "sessions": [
            {"browser": s.user_agent, "logged_in": s.created_at, "last_used": s.last_seen_at}
            for s in sessions
        ],
        "activity": [
            {"at": e.at, "action": e.action, "target": e.target, "after": e.after} for e in activity
        ],
        "apps": apps,
    }


def erase(user: User) -> None:
    """Erase ``user`` as a person: each plugin first (``guichet_erase_user``), then
    their sessions, second factor, memberships (with favourites and pins),
    invitations, and their name and address in the audit trail; the account stays,
    blank and shut (``erased-<id>@invalid``), for the records that must keep pointing
    at someone (payments, letters, invoices). Logged; the caller commits."""
    from core.models import Favourite, Invitation, Pin, RecoveryCode, UserTotp

    erased_email = f"erased-{user.id}@invalid"
    for impl in registry(current_app).pm.hook.guichet_erase_user.get_hookimpls():
        impl.function(*[{"user": user}[name] for name in impl.argnames])
    for model in (UserSession, UserTotp, RecoveryCode, SecurityKey, Favourite, Pin):
        db.session.execute(delete(model).where(model.user_id == user.id))
    db.session.execute(delete(Invitation).where(Invitation.email == user.email))
    db.session.execute(
        update(AuditEvent)
        .where(AuditEvent.actor_id == user.id)
        .values(actor_label=erased_email, ip="", device="")
    )
    for membership in list(user.memberships):
        db.session.delete(membership)
    user.email, user.name, user.locale = erased_email, "", None
    user.password_hash, user.active, user.two_factor = "", False, False
    user.last_login_at = None
    audit.record("user.erase", f"user:{user.id}")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@bp.get("/mes-donnees.json")
@login_required
@limiter.limit("10 per hour")
def export():
    """The user's personal data as a JSON file."""
    data = collect(current_user._get_current_object())
    body = json.dumps(data, default=_plain, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="mes-donnees.json"'},
    )
