"""The activity trail ("Activité"): what happened in an organisation's space as its
people see it: logins (with the address and device) and failed ones, changes of
password, e-mail and second factor, sessions ended, invitations, roles and accesses,
downloads, payments, letters, notification addresses. The events are the audit
log's (:class:`~core.models.AuditEvent`, one table), each with its ``kind``.

An organisation's admins see all of the organisation's; a member sees their own.
The page filters by kind, member and dates, and exports CSV; events are kept
``ACTIVITY_DAYS`` days (a daily task of the worker deletes older ones).

Apps record their own events with ``record_activity`` (the plugin API) and name them
in their manifest (``App.activity``), so the trail says "Relevé téléchargé", not
``download.statement``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    has_app_context,
    has_request_context,
    render_template,
    request,
)
from flask_login import current_user, login_required
from sqlalchemy import delete, select

from core import audit
from core.csvexport import csv_response, csv_text, requested_dialect, stream_rows
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.listing import Listing, page_rows, read_page
from core.models import TRAIL, AuditEvent, Membership, User, utcnow
from core.tenancy import current_membership

bp = Blueprint("activity", __name__)

#: kind: (label, the action prefixes it gathers)
KINDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "login": (_l("Logins"), ("login.",)),
    "security": (_l("Security"), ("user.", "session.")),
    "members": (_l("Members"), ("invitation.", "membership.")),
    "downloads": (_l("Downloads"), ("download.",)),
    "payments": (_l("Payments"), ("payment.", "wallet.", "autopay.")),
    "letters": (_l("Letters"), ("letter.",)),
    "notifications": (_l("Notifications"), ("notification.",)),
    # what other apps record and name in their manifest (``App.activity``)
    "apps": (_l("Other apps"), ()),
}
#: what the core's events say; apps name theirs in their manifest (``App.activity``)
ACTIONS: dict[str, Any] = {
    "login.ok": _l("Logged in to the portal"),
    "login.failed": _l("Failed login (wrong password)"),
    "login.sso": _l("Logged in through the organisation's provider"),
    "login.code_failed": _l("Failed login (wrong code)"),
    "login.key_failed": _l("Failed login (security key refused)"),
    "user.key_added": _l("Security key added"),
    "user.key_removed": _l("Security key removed"),
    "user.password": _l("Password changed"),
    "user.email": _l("E-mail address changed"),
    "user.2fa_on": _l("Second factor turned on"),
    "user.2fa_off": _l("Second factor turned off"),
    "user.2fa_reset": _l("Second factor reset"),
    "user.2fa_codes": _l("New recovery codes"),
    "user.2fa_recovery": _l("Logged in with a recovery code"),
    "session.end": _l("Session ended"),
    "invitation.create": _l("Colleague invited"),
    "invitation.accept": _l("Invitation accepted"),
    "membership.set": _l("Role or accounts changed"),
    "membership.access": _l("Apps or suspension changed"),
    "membership.remove": _l("Member removed"),
}


def kind_of(action: str) -> str:
    """The trail's kind of an audit action: by its prefix, else ``apps`` for an action
    an app names in its manifest, else ``other`` (the operators' own, never shown)."""
    for kind, (_label, prefixes) in KINDS.items():
        if prefixes and action.startswith(prefixes):
            return kind
    return "apps" if has_app_context() and action in action_labels() else "other"


@lru_cache(maxsize=512)
def device_of(user_agent: str) -> str:
    """A browser as people say it: "Chrome 156 · Linux", "Mobile Safari · iOS (iPhone)"
    (``ua-parser``); "" when it says nothing."""
    from ua_parser import parse

    if not user_agent:
        return ""
    found = parse(user_agent[:500])
    browser = found.user_agent
    name = (
        f"{browser.family} {browser.major}".strip() if browser and browser.family != "Other" else ""
    )
    system = found.os.family if found.os and found.os.family != "Other" else ""
    device = found.device.family if found.device and found.device.family != "Other" else ""
    if device and device not in ("Mac", "Generic Smartphone"):
        system = f"{system} ({device})" if system else device
    return " · ".join(part for part in (name, system) if part)[:120] or user_agent[:120]


def record_for_user(user: User, action: str, target: str = "") -> None:
    """Record what concerns a user rather than one organisation (a login, a new
    password): once in each organisation they belong to, so that each sees its
    member's event (once without one for an operator). Done by the logged-in user
    (an admin resetting a member's second factor), else by ``user`` (a failed
    login). The caller commits."""
    signed_in = has_request_context() and current_user.is_authenticated
    actor = current_user if signed_in else user
    organisations = [m.organisation_id for m in user.memberships] or [None]
    for organisation_id in organisations:
        audit.record(
            action, target or f"user:{user.id}", organisation_id=organisation_id, actor=actor
        )


def record_activity(action: str, target: str = "", everywhere: bool = False) -> None:
    """Record in the organisation's activity trail that the logged-in user did
    ``action`` (``download.statement``: its prefix makes its kind, see :data:`KINDS`)
    to ``target`` (words its reader understands: an invoice's number, a file's name),
    and commit: call it once what it records is done (a download: before sending
    the file). ``everywhere``: it concerns the user, not one organisation (a new
    password), and goes in the trail of each of theirs. Name the action in the app's
    manifest (``App.activity``)."""
    if everywhere:
        record_for_user(current_user, action, target[:128])
    else:
        membership = current_membership()
        organisation_id = membership.organisation_id if membership else None
        audit.record(action, target[:128], organisation_id=organisation_id)
    session = db.session()
    # what the caller loaded stays loaded: a streamed download reads it afterwards
    session.expire_on_commit, keep = False, session.expire_on_commit
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def action_labels() -> dict[str, Any]:
    """Every event's words: the core's and the installed apps' (``App.activity``)."""
    from core.appsystem import registry

    found = current_app.extensions.get("guichet_activity_labels")
    if found is None:
        found = dict(ACTIONS)
        for entry in registry(current_app).apps.values():
            found.update(entry.app.activity)
        current_app.extensions["guichet_activity_labels"] = found
    return found


# --- the page ------------------------------------------------------------------------


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        abort(400, _("Dates are written 2026-12-31."))


def _filtered(membership: Membership):
    """The trail's query for this request's filters (``kind``, ``member`` for admins,
    ``from`` and ``to``), and the filters as read."""
    organisation_id = membership.organisation_id
    query = select(AuditEvent).where(AuditEvent.organisation_id == organisation_id)
    filters = {"kind": "", "member": "", "from": "", "to": ""}
    if not membership.is_admin:
        query = query.where(AuditEvent.actor_id == membership.user_id)
    elif request.args.get("member", "").isdigit():
        filters["member"] = request.args["member"]
        query = query.where(AuditEvent.actor_id == int(filters["member"]))
    if request.args.get("kind") in KINDS:
        filters["kind"] = request.args["kind"]
        query = query.where(AuditEvent.kind == filters["kind"])
    else:  # written as the partial indexes say it, so the planner takes them
        query = query.where(TRAIL)
    start, end = _day(request.args.get("from", "")), _day(request.args.get("to", ""))
    if start is not None:
        filters["from"] = start.isoformat()
        query = query.where(AuditEvent.at >= datetime.combine(start, time.min))
    if end is not None:
        filters["to"] = end.isoformat()
        query = query.where(AuditEvent.at < datetime.combine(end + timedelta(days=1), time.min))
    return query, filters


class ActivityListing(Listing):
    count_limit = 10_000


def _members(membership: Membership) -> dict[int, str]:
    if not membership.is_admin:
        return {}
    rows = db.session.execute(
        select(User.id, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == membership.organisation_id)
        .order_by(User.email)
    )
    return dict(rows.all())


def _membership() -> Membership:
    membership = current_membership()
    if membership is None:
        abort(404)
    return membership


@bp.get("/activite/")
@login_required
def index():
    """The trail, newest first, 50 a page."""
    membership = _membership()
    query, filters = _filtered(membership)
    listing = ActivityListing(size=50, page=read_page(request.args))
    listing.exact = request.args.get("count") == "exact"
    rows = page_rows(listing, query, (AuditEvent.id.desc(),))
    return render_template(
        "activity/index.html",
        listing=listing,
        rows=rows,
        filters=filters,
        kinds=KINDS,
        labels=action_labels(),
        members=_members(membership),
        is_admin=membership.is_admin,
        days=current_app.config["ACTIVITY_DAYS"],
    )


CSV_COLUMNS = (
    ("at", _l("Date")),
    ("who", _l("Who")),
    ("kind", _l("Kind")),
    ("action", _l("Event")),
    ("target", _l("Object")),
    ("ip", _l("Address")),
    ("device", _l("Device")),
)


@bp.get("/activite/export.csv")
@login_required
def export():
    """The filtered trail as CSV (``dialect=fr`` for a spreadsheet, ``std``), streamed."""
    membership = _membership()
    dialect = requested_dialect()
    query, _filters = _filtered(membership)
    labels, kinds = action_labels(), {k: label for k, (label, _p) in KINDS.items()}
    provider = _("Your provider")  # what the operators did from the command line
    columns = (
        AuditEvent.at,
        AuditEvent.actor_label,
        AuditEvent.kind,
        AuditEvent.action,
        AuditEvent.target,
        AuditEvent.ip,
        AuditEvent.device,
    )

    def rows() -> Iterator[list]:
        for at, who, kind, action, target, ip, device in stream_rows(
            query.with_only_columns(*columns).order_by(AuditEvent.id.desc())
        ):
            yield [
                at.isoformat(timespec="seconds"),
                provider if who == "cli" else who,
                dialect.label(kind, kinds),
                dialect.label(action, labels),
                target,
                ip,
                device,
            ]

    body = csv_text(dialect.header(CSV_COLUMNS), rows(), dialect, text_columns=(1, 4, 6))
    return csv_response(body, "activite")


def purge() -> int:
    """Delete the events older than ``ACTIVITY_DAYS`` days (the worker, daily);
    returns how many."""
    cutoff = utcnow() - timedelta(days=current_app.config["ACTIVITY_DAYS"])
    gone = db.session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff)).rowcount
    db.session.commit()
    return gone
