"""Built-in app "Courrier postal": send an invoice or any PDF by post, priced per page,
paid from the wallet (the core's ledger), followed to delivery. Letters go through the
postal-provider hook (:mod:`core.postal`); the built-in provider hands them to a print
shop through an outbox folder (:mod:`.printshop`). An invoice's PDF comes through the
document formats (``document_file(invoice, "pdf")``)."""

from __future__ import annotations

from flask import url_for
from huey import crontab
from sqlalchemy import Text, cast, func, select

from core.plugin_api import (
    Action,
    App,
    Gauge,
    MenuItem,
    OperatorPage,
    PeriodicTask,
    PluginBlueprint,
    SearchResult,
    Widget,
    db,
    hookimpl,
    short_date,
)
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice

from . import cli, sending
from .desk import desk
from .models import Letter, sent_by_customers
from .printshop import PrintShop
from .views import STATUS_LABELS, bp

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

APP_KEY = "postal"
APP = App(
    key=APP_KEY,
    name=_l("Postal mail"),
    endpoint="postal.index",
    description=_l("Send your invoices and documents by post, paid from your wallet."),
    icon="mail",
    section=_l("Payments"),
    blueprint=bp,
    url_prefix="/courrier",
    widgets=(
        Widget("postal.progress", title=_l("Letters on their way"), endpoint="postal.widget"),
    ),
    menu=(MenuItem(order=70),),
    activity={"letter.sent": _l("Letter sent")},
    defaults={
        "POSTAL_MAX_PAGES": 20,
        "POSTAL_MAX_BYTES": 5 * 1024 * 1024,
        "POSTAL_POLL_BATCH": 500,
    },
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(desk, app_key=None, url_prefix="/operator/courriers", operators=True)]


@hookimpl
def guichet_operator_pages():
    return [OperatorPage(_l("Letters"), "postal_desk.index", order=50)]


@hookimpl
def guichet_postal_providers():
    return [PrintShop]


def letters_by_status() -> dict[tuple[str, ...], float]:
    """How many letters are in each status (one count over ``ix_letters_status``)."""
    rows = db.session.execute(select(Letter.status, func.count()).group_by(Letter.status))
    return {(status,): count for status, count in rows}


@hookimpl
def guichet_metrics():
    return [Gauge("guichet_letters", "Letters by status.", ("status",), letters_by_status)]


@hookimpl
def guichet_actions(target):
    if not isinstance(target, Invoice):
        return []
    actions = [
        Action(APP_KEY, _l("Send by post"), url_for("postal.new", invoice_id=target.id), order=40)
    ]
    sent = db.session.scalars(
        sent_by_customers().where(Letter.invoice_id == target.id).order_by(Letter.id)
    ).all()
    for letter in sent:
        when, status = short_date(letter.created_at), STATUS_LABELS[letter.status]
        label = _l("Sent by post on %(date)s: %(status)s", date=when, status=status)
        actions.append(Action(APP_KEY, label, url_for("postal.letter", letter_id=letter.id)))
    return actions


@hookimpl
def guichet_search(query, scope):
    """Letters by recipient (any line of its address) and document."""
    pattern = f"%{query}%"
    rows = db.session.scalars(
        sent_by_customers(scope)
        .where(cast(Letter.address, Text).ilike(pattern) | Letter.title.ilike(pattern))
        .order_by(Letter.id.desc())
        .limit(5)
    )
    return [
        SearchResult(
            APP_KEY,
            f"{letter.address[0]} — {letter.title}",
            url_for("postal.letter", letter_id=letter.id),
            f"{short_date(letter.created_at)} · {STATUS_LABELS[letter.status]}",
        )
        for letter in rows
    ]


@hookimpl
def guichet_periodic_tasks():
    return [
        PeriodicTask("postal.poll", crontab(minute="*/5"), sending.poll),
        PeriodicTask("postal.resume", crontab(minute="*/15"), sending.resume),
    ]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)


@hookimpl
def guichet_personal_data(user):
    """The letters the user sent."""
    rows = db.session.scalars(
        select(Letter).where(Letter.user_id == user.id).order_by(Letter.id)
    ).all()
    return {
        "letters": [
            {"date": row.created_at, "title": row.title, "to": row.address, "status": row.status}
            for row in rows
        ]
    }
