"""Built-in app "Paiements en ligne": pay invoices online (one, or several selected
together), top up the wallet (the form is the wallet's, the payment is ours), follow
each payment to its end; the provider's webhook and a periodic reconciliation bring
the provider's state in. Payments go through the payment-provider hook only; what a
paid payment does is its purpose's (``guichet_payment_purposes``): this app writes no
other app's table. Mollie is the built-in provider."""

from __future__ import annotations

from flask import url_for
from huey import crontab
from sqlalchemy import select

from core.plugin_api import (
    Action,
    App,
    MenuItem,
    PeriodicTask,
    PluginBlueprint,
    Selection,
    db,
    hookimpl,
    money,
)
from core.plugin_api import lazy_gettext as _l
from plugins.invoices import public as invoices

from . import cli, flow
from .guest import guest
from .models import OPEN, Payment, PaymentInvoice
from .views import STATUS_LABELS, bp, payable
from .webhook import webhooks

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

APP_KEY = flow.APP_KEY
APP = App(
    key=APP_KEY,
    name=_l("Online payments"),
    endpoint="payments.index",
    description=_l("Pay your invoices online and follow your payments."),
    icon="card",
    section=_l("Payments"),
    blueprint=bp,
    url_prefix="/paiements",
    menu=(MenuItem(order=60),),
    activity={"payment.started": _l("Payment started")},
    defaults={
        "PAYMENTS_RECONCILE_AFTER_MINUTES": 15,
        "PAYMENTS_RECONCILE_DAYS": 30,
        "PAYMENTS_LOCK_TIMEOUT": 5,
        "PAYMENTS_COUNTRY": "FR",
        "PAYMENTS_MAX_INVOICES": 50,
        # an invoice's payment link opens without login, for that one invoice
        "PAYMENT_LINKS_WITHOUT_LOGIN": False,
    },
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_blueprints():
    return [
        PluginBlueprint(webhooks, app_key=None, url_prefix="/paiements"),
        PluginBlueprint(guest, app_key=None, url_prefix="/paiements/payer"),
    ]


@hookimpl
def guichet_actions(target):
    if isinstance(target, Selection) and target.app_key == invoices.APP_KEY:
        return [Action(APP_KEY, _l("Pay the selection"), url_for("payments.pay"), order=30)]
    if not isinstance(target, invoices.Invoice):
        return []
    actions = []
    rows = (
        db.session.execute(
            select(Payment)
            .join(PaymentInvoice)
            .where(PaymentInvoice.invoice_id == target.id)
            .where(Payment.status.in_((*OPEN, "paid")))
            .order_by(Payment.id)
        )
        .scalars()
        .all()
    )
    for payment in rows:
        label = _l("Online payment: %(status)s", status=STATUS_LABELS[payment.status])
        if payment.charged_back:
            label = _l(
                "Online payment: %(amount)s charged back by the bank",
                amount=money(payment.charged_back, payment.currency),
            )
        elif payment.refunded:
            label = _l(
                "Online payment: %(status)s, %(refunded)s refunded",
                status=STATUS_LABELS[payment.status],
                refunded=money(payment.refunded, payment.currency),
            )
        actions.append(Action(APP_KEY, label, url_for("payments.show", payment_id=payment.id)))
    if payable(target) and not any(p.is_open for p in rows):
        actions.append(Action(APP_KEY, _l("Pay"), url_for("payments.pay", id=target.id), order=5))
    return actions


@hookimpl
def guichet_periodic_tasks():
    return [PeriodicTask("payments.reconcile", crontab(minute="*/10"), flow.reconcile)]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)


@hookimpl
def guichet_personal_data(user):
    """The payments the user started."""
    rows = db.session.scalars(
        select(Payment).where(Payment.user_id == user.id).order_by(Payment.id)
    ).all()
    return {
        "payments": [
            {
                "date": row.created_at,
                "description": row.description,
                "amount": row.amount / 100,
                "currency": row.currency,
                "status": row.status,
            }
            for row in rows
        ]
    }
