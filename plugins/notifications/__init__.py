"""Built-in app "Notifications" (a tab of "Vos factures"): addresses that receive new
invoices by e-mail, PDF attached or not, one e-mail per invoice or a daily digest; the
delivery log; and "send by e-mail" for invoices selected in the list. E-mails go out
through the job queue (``guichet worker``), see :mod:`.sending`. It requires the
invoices app, whose public module it reads."""

from __future__ import annotations

from flask import url_for
from huey import crontab
from sqlalchemy import delete, or_, select

from core.plugin_api import Action, App, MenuItem, PeriodicTask, Selection, db, hookimpl
from core.plugin_api import lazy_gettext as _l
from plugins.invoices import public as invoices

from . import sending
from .models import Subscription
from .views import bp

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

APP_KEY = "notifications"
APP = App(
    key=APP_KEY,
    name=_l("Your invoice notifications"),
    endpoint="notifications.index",
    description=_l("Receive your invoices by e-mail, with their PDF."),
    icon="mail",
    section=_l("Contracts and invoices"),
    requires=(invoices.APP_KEY,),
    blueprint=bp,
    url_prefix="/factures/notifications",
    activity={
        "notification.added": _l("Invoice e-mail address added"),
        "notification.changed": _l("Invoice e-mail address changed"),
        "notification.removed": _l("Invoice e-mail address removed"),
    },
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_tabs(app_key):
    if app_key == invoices.APP_KEY:
        return [MenuItem(APP_KEY, "", _l("Notifications"), "notifications.index", order=20)]
    return []


@hookimpl
def guichet_actions(target):
    if isinstance(target, Selection) and target.app_key == invoices.APP_KEY:
        return [Action(APP_KEY, _l("Send by e-mail"), url_for("notifications.send"), order=20)]
    return []


@hookimpl
def guichet_event(name, payload):
    """New invoices are noted while an import runs, and handed to the queue when the
    request (or the command's app context) ends."""
    if name == "invoice.created":
        sending.note_created(payload["invoice_id"])
        if payload.get("recipient_user_id"):  # a receipt: its payer gets it too
            sending.send_to_user(payload["invoice_id"], payload["recipient_user_id"])


@hookimpl
def guichet_periodic_tasks():
    return [
        PeriodicTask("notifications.digests", crontab(hour="7", minute="0"), sending.send_digests),
        PeriodicTask("notifications.sweep", crontab(minute="*/5"), sending.sweep),
    ]


@hookimpl
def guichet_erase_user(user):
    """The user's invoice addresses, and those written with their address, go."""
    db.session.execute(
        delete(Subscription).where(
            or_(Subscription.user_id == user.id, Subscription.email == user.email)
        )
    )


@hookimpl
def guichet_personal_data(user):
    """The addresses the user receives invoices at, and those that are theirs."""
    rows = db.session.scalars(
        select(Subscription)
        .where(or_(Subscription.user_id == user.id, Subscription.email == user.email))
        .order_by(Subscription.id)
    ).all()
    return {
        "invoice_addresses": [
            {
                "email": row.email,
                "kinds": row.kinds,
                "frequency": row.frequency,
                "attachments": row.attachments,
            }
            for row in rows
        ]
    }
