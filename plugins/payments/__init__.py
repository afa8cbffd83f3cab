"""Built-in app "Paiements en ligne": pay invoices online (one, or several selected
together), top up the wallet (the form is the wallet's, the payment is ours), follow
each payment to its end; the provider's webhook and a periodic reconciliation bring
the provider's state in. Payments go through the payment-provider hook only
(:mod:`core.payments`); Mollie is the built-in provider."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from huey import crontab
from sqlalchemy import select

from core.plugin_api import (
    Action,
    App,
    MenuItem,
    MigrationLocation,
    PaymentError,
    PeriodicTask,
    PluginBlueprint,
    Selection,
    StatusListing,
    app_usable,
    csrf,
    current_scope,
    db,
    get_scoped_or_404,
    hookimpl,
    limiter,
    money,
    page_rows,
    parse_amount,
    payment_provider,
    payment_providers,
    plugin_defaults,
    read_listing,
    render,
    scoped,
)
from plugins.invoices.public import Invoice

from . import flow
from .models import OPEN, Payment, PaymentInvoice

GUICHET_API = ">=1.0,<2"  # the plugin API range this plugin supports

APP_KEY = flow.APP_KEY
STATUS_LABELS = {
    "open": _l("Waiting for payment"),
    "pending": _l("Being processed"),
    "authorized": _l("Authorised"),
    "paid": _l("Paid"),
    "failed": _l("Failed"),
    "canceled": _l("Cancelled"),
    "expired": _l("Expired"),
}
STATUS_MESSAGES = {
    "open": _l(
        "We are waiting for your payment. If you left the payment page, you can go back to it."
    ),
    "pending": _l("Your payment is being processed by the bank. This page updates by itself."),
    "authorized": _l("Your payment is authorised and will be captured shortly."),
    "paid": _l("Thank you: your payment was received."),
    "failed": _l("The payment failed. Nothing was charged; you may try again."),
    "canceled": _l("You cancelled the payment. Nothing was charged."),
    "expired": _l("The payment was not completed in time. Nothing was charged; you may try again."),
}
DEFAULTS = {
    "PAYMENTS_RECONCILE_AFTER_MINUTES": 15,
    "PAYMENTS_RECONCILE_DAYS": 30,
    "PAYMENTS_LOCK_TIMEOUT": 5,
    "PAYMENTS_COUNTRY": "FR",
    "PAYMENTS_MAX_INVOICES": 50,
}
PROVIDER_ID = re.compile(r"[A-Za-z0-9_]{3,64}")

bp = Blueprint("payments", __name__, template_folder="templates")
webhooks = Blueprint("payments_webhook", __name__)
csrf.exempt(webhooks)  # the provider posts without a session; it proves nothing, we fetch

plugin_defaults(bp, DEFAULTS)


bp.before_app_request(flow.allow_checkout)


@hookimpl
def guichet_apps():
    return [
        App(
            key=APP_KEY,
            name=_l("Online payments"),
            endpoint="payments.index",
            description=_l("Pay your invoices online and follow your payments."),
            icon="card",
            section=_l("Payments"),
        )
    ]


@hookimpl
def guichet_blueprints():
    return [
        PluginBlueprint(bp, app_key=APP_KEY, url_prefix="/paiements"),
        PluginBlueprint(webhooks, app_key=None, url_prefix="/paiements"),
    ]


@hookimpl
def guichet_menu_items(user, organisation):
    return [MenuItem(APP_KEY, _l("Payments"), _l("Online payments"), "payments.index", order=60)]


@hookimpl
def guichet_actions(target):
    if isinstance(target, Selection) and target.app_key == "invoices":
        return [Action(APP_KEY, _l("Pay the selection"), url_for("payments.pay"), order=30)]
    if not isinstance(target, Invoice):
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
def guichet_migrations():
    return MigrationLocation(
        "payments", Path(__file__).parent / "migrations", "alembic_version_payments"
    )


@hookimpl
def guichet_cli(group):
    @group.group("payments")
    def payments_cli():
        """Online payments."""

    @payments_cli.command("refund")
    @click.argument("payment_id", type=int)
    @click.argument("amount")
    @click.option("--reason", required=True, help="Why (shown to the customer).")
    def refund(payment_id, amount, reason):
        """Refund all or part of a paid payment (a top-up also debits the wallet)."""
        payment = db.session.get(Payment, payment_id)
        if payment is None:
            raise click.BadParameter(f"no payment with id {payment_id}", param_hint="PAYMENT_ID")
        try:
            row = flow.refund(payment, parse_amount(amount), reason)
        except ValueError as error:  # includes the wallet's InsufficientFunds
            db.session.rollback()
            raise click.ClickException(str(error)) from None
        except PaymentError as error:
            raise click.ClickException(f"the provider refused: {error.message}") from None
        click.echo(f"refund {row.provider_id}: {row.amount / 100:.2f} {payment.currency}")

    @payments_cli.command("reconcile")
    def reconcile():
        """Check now the payments left open longer than expected."""
        click.echo(f"{flow.reconcile()} payment(s) checked")


def payable(invoice: Invoice) -> bool:
    """Whether an invoice can be paid online: an invoice (not a credit note) with an
    amount left to pay once its credit notes are set against it."""
    return invoice.amount_due > 0


# --- pages -------------------------------------------------------------------------


@bp.get("/")
def index():
    """The organisation's payments, newest first, with a filter by status."""
    history = StatusListing()
    read_listing(history, request.args, {"date": Payment.id}, "date", descending=True)
    query = scoped(Payment)
    if history.read_status(request.args, STATUS_LABELS):
        query = query.where(Payment.status == history.status)
    order = Payment.id.desc() if history.descending else Payment.id.asc()
    payments = page_rows(history, query, (order,))
    return render(
        "payments/index.html",
        "results",
        history=history,
        payments=payments,
        labels=STATUS_LABELS,
        provider=payment_provider(),
    )


@bp.get("/<int:payment_id>")
def show(payment_id: int):
    """A payment and its live state: the page the provider sends the customer back to.
    The webhook may not have come yet, so an open payment is asked of the provider."""
    payment = get_scoped_or_404(Payment, payment_id)
    if payment.invoices and not app_usable("invoices"):  # it shows invoice numbers
        abort(404)
    trouble = ""
    if payment.is_open and payment.provider_id:
        try:
            payment = flow.sync(payment)
        except PaymentError:
            db.session.rollback()
            trouble = _(
                "The payment service cannot be reached right now; this page will try again."
            )
        except (flow.Busy, flow.Mismatch):
            db.session.rollback()
            payment = get_scoped_or_404(Payment, payment_id)
    provider = payment_providers().get(payment.provider)
    return render(
        "payments/show.html",
        "state",
        payment=payment,
        labels=STATUS_LABELS,
        messages=STATUS_MESSAGES,
        trouble=trouble,
        provider=provider,
        invoices=_invoices_of(payment),
    )


def _invoices_of(payment: Payment) -> list[Invoice]:
    ids = [link.invoice_id for link in payment.invoices]
    if not ids:
        return []
    return db.session.scalars(
        scoped(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.number)
    ).all()


@bp.route("/factures", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def pay():
    """Pay one or several invoices in one payment: GET shows what will be paid (the ids
    come from the invoice's action or the list's selection), POST starts the payment."""
    if not app_usable("invoices"):
        abort(404)
    source = request.form if request.method == "POST" else request.args
    try:
        ids = sorted({int(i) for i in source.getlist("id")})
    except ValueError:
        abort(400, _("Invoice ids must be numbers."))
    limit = current_app.config["PAYMENTS_MAX_INVOICES"]
    if not ids:
        flash(_("Select the invoices to pay."), "error")
        return redirect(url_for("invoices.index"))
    if len(ids) > limit:
        abort(400, _("At most %(count)d invoices can be paid together.", count=limit))
    found = db.session.scalars(
        scoped(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.number)
    ).all()
    if len(found) != len(ids):
        abort(404)
    busy = flow.open_payments_for(ids)
    payable_now = [i for i in found if payable(i) and i.id not in busy]
    skipped = [i for i in found if i not in payable_now]
    currencies = {i.currency for i in payable_now}
    total = sum(i.amount_due for i in payable_now)
    error = ""
    if len(currencies) > 1:
        error = _("These invoices are in several currencies; pay them separately.")
    elif not payable_now:
        error = _("None of these invoices can be paid online now.")
    provider = payment_provider()
    can_pay = not error and provider is not None
    if request.method == "POST" and can_pay:
        numbers = ", ".join(i.number for i in payable_now[:5]) + (
            "…" if len(payable_now) > 5 else ""
        )
        try:
            payment = flow.start(
                "invoices",
                current_scope().organisation_id,
                payable_now[0].account_id,
                total,
                _("Invoices %(numbers)s", numbers=numbers),
                current_user.id,
                invoices=[(i.id, i.amount_due) for i in payable_now],
                method=request.form.get("method") or None,
            )
        except PaymentError as failure:
            error = _("The payment service refused the payment: %(reason)s", reason=failure.message)
        else:
            return redirect(flow.checkout_target(payment), 303)
    return render(
        "payments/pay.html",
        "content",
        invoices=payable_now,
        skipped=skipped,
        busy=busy,
        total=total,
        error=error,
        provider=provider,
        can_pay=can_pay,
        methods=provider.methods(total, "EUR", flow.provider_locale()) if can_pay else [],
    ), (422 if error and request.method == "POST" else 200)


# --- the provider's webhook ---------------------------------------------------------


@webhooks.post("/webhook")
@limiter.exempt
def receive():
    """The provider says a payment changed: ``id=tr_…``, nothing else. We fetch the
    payment and apply it once. 200 for ids we do not know (nothing changes); 503 when
    the provider cannot be reached or the payment is busy, so that it calls again."""
    provider_id = request.form.get("id", "")
    if not PROVIDER_ID.fullmatch(provider_id):
        return (
            "The form field id (the payment's id, such as tr_WDqYK6vllg) is missing or bad.\n",
            400,
        )
    known = db.session.execute(flow.BY_PROVIDER_ID, {"provider_id": provider_id}).first()
    if known is None:
        return "", 200
    try:
        flow.settle(known.id, known.provider, provider_id)
    except flow.Busy:
        return "The payment is being updated; call again.\n", 503
    except PaymentError as error:
        db.session.rollback()
        if error.retry:
            return "The payment service cannot be reached; call again.\n", 503
        return "", 200  # the provider does not know it: nothing to apply
    except flow.Mismatch:
        return "", 200  # recorded on the payment for the operators
    return "", 200
