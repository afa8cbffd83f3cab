"""Built-in app "Prélèvement automatique": an organisation's admins sign a SEPA Direct
Debit mandate (or save a card) and choose the accounts whose invoices are paid on their due date;
the admins are told ahead of each debit, and when one fails or is taken back (the
invoice is then to pay again, and the reminders resume). The payments go through the
payments app (``plugins.payments.public.start`` with a mandate), so what a paid debit
does to an invoice is the invoices app's purpose, as for any payment."""

from __future__ import annotations

from flask import url_for
from huey import crontab
from sqlalchemy import select

from core.plugin_api import (
    Action,
    App,
    OperatorPage,
    PeriodicTask,
    PluginBlueprint,
    db,
    hookimpl,
    short_date,
)
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice

from . import cards, cli, collecting, topups
from .desk import desk
from .forms import AutopaySettingsForm
from .models import HOLDING, Charge
from .views import STATE_LABELS, bp

GUICHET_API = ">=3.0,<4"
APP_KEY = collecting.APP_KEY

APP = App(
    key=APP_KEY,
    name=_l("Automatic payment"),
    endpoint="autopay.index",
    description=_l(
        "Sign a SEPA Direct Debit mandate or save a card, and have your invoices paid on "
        "their due date."
    ),
    icon="card",
    section=_l("Payments"),
    requires=("invoices", "payments"),
    # the provider must have direct debit on (Mollie activates it per account): an
    # operator switches it on for an organisation
    default_enabled=False,
    blueprint=bp,
    url_prefix="/prelevement",
    activity={
        "autopay.card_saved": _l("Card saved for automatic payment"),
        "autopay.mandate_signed": _l("SEPA mandate signed"),
        "autopay.mandate_revoked": _l("SEPA mandate revoked"),
    },
    settings={"topup": 0},  # euros the wallet is topped up by when it runs low; 0: never
    settings_form=AutopaySettingsForm,
    defaults={
        # days between the notice and the debit (SEPA's rule is 14 unless the mandate
        # says otherwise; ours says this many)
        "AUTOPAY_NOTICE_DAYS": 5,
        # days after a failed debit it is tried once more (the failure's e-mail is
        # its notice); 0: never
        "AUTOPAY_RETRY_DAYS": 7,
    },
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_blueprints():
    return [
        PluginBlueprint(desk, app_key=None, url_prefix="/operator/prelevements", operators=True)
    ]


@hookimpl
def guichet_operator_pages():
    return [OperatorPage(_l("Automatic payments"), "autopay_desk.index", order=62)]


@hookimpl
def guichet_periodic_tasks():
    """Every morning the day's debits; every ten minutes, the stuck ones."""
    return [
        PeriodicTask("autopay.daily", crontab(hour="6", minute="30"), collecting.run),
        PeriodicTask("autopay.sweep", crontab(minute="*/10"), collecting.sweep),
    ]


@hookimpl
def guichet_payment_purposes():
    """A card saved through a first payment becomes a mandate."""
    return [cards.PAYMENT_PURPOSE]


@hookimpl
def guichet_event(name, payload):
    """A payment of ours moved; the wallet ran low (a top-up, if asked for)."""
    if name.startswith("payment."):
        collecting.on_payment_event(name, payload)
    elif name == "wallet.low":
        topups.on_low(payload)


@hookimpl
def guichet_collection_holds(invoice_ids):
    """An invoice whose automatic payment is scheduled or under way is not reminded
    (a second try after a failure holds nothing until it is at the bank: the
    reminders resume meanwhile)."""
    rows = db.session.execute(
        select(Charge.invoice_id, Charge.charge_on).where(
            Charge.invoice_id.in_(invoice_ids),
            Charge.state.in_(HOLDING),
            (Charge.attempt == 1) | (Charge.state != "scheduled"),
        )
    ).all()
    return {row.invoice_id: f"automatic payment on {row.charge_on}" for row in rows}


@hookimpl
def guichet_actions(target):
    """On an invoice's page, its automatic payment, where there is one."""
    if not isinstance(target, Invoice):
        return []
    row = db.session.scalar(
        select(Charge).where(Charge.invoice_id == target.id).order_by(Charge.attempt.desc())
    )
    if row is None:
        return []
    label = _l(
        "Automatic payment on %(day)s: %(state)s",
        day=short_date(row.charge_on),
        state=STATE_LABELS[row.state],
    )
    return [Action(APP_KEY, label, url_for("autopay.index"), order=35)]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)
