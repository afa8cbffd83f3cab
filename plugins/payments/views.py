"""The pages of online payments: the organisation's payments, one payment and its
live state (where the provider sends the customer back), and paying invoices."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from core.plugin_api import (
    PaymentError,
    StatusListing,
    app_usable,
    current_scope,
    db,
    get_scoped_or_404,
    limiter,
    page_rows,
    payment_provider,
    payment_providers,
    read_listing,
    render,
    scoped,
    selected_ids,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.invoices import public as invoices

from . import flow, links
from .models import Payment

bp = Blueprint("payments", __name__, template_folder="templates")
bp.before_app_request(flow.allow_checkout)
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


def payable(invoice: invoices.Invoice) -> bool:
    """Whether an invoice can be paid online: an invoice (not a credit note) with an
    amount left to pay once its credit notes are set against it."""
    return invoice.amount_due > 0


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
    if payment.invoices and not app_usable(invoices.APP_KEY):  # it shows invoice numbers
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


def _invoices_of(payment: Payment) -> list[invoices.Invoice]:
    ids = [link.invoice_id for link in payment.invoices]
    if not ids:
        return []
    return db.session.scalars(
        scoped(invoices.Invoice)
        .where(invoices.Invoice.id.in_(ids))
        .order_by(invoices.Invoice.number)
    ).all()


@bp.get("/lien/<token>")
def link(token: str):
    """Where an invoice's payment link leads (after login): the payment of that
    invoice, or, once it is paid, the invoice itself with a word that it is."""
    invoice_id = links.read_link(token)
    if invoice_id is None or not app_usable(invoices.APP_KEY):
        abort(404)
    invoice = get_scoped_or_404(invoices.Invoice, invoice_id)
    if not payable(invoice):
        flash(_("Invoice %(number)s has nothing left to pay.", number=invoice.number), "info")
        return redirect(url_for("invoices.detail", invoice_id=invoice.id))
    return redirect(url_for("payments.pay", id=invoice.id))


@bp.route("/factures", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def pay():
    """Pay one or several invoices in one payment: GET shows what will be paid (the ids
    come from the invoice's action or the list's selection), POST starts the payment."""
    if not app_usable(invoices.APP_KEY):
        abort(404)
    ids = selected_ids(request.form if request.method == "POST" else request.args)
    limit = current_app.config["PAYMENTS_MAX_INVOICES"]
    if not ids:
        flash(_("Select the invoices to pay."), "error")
        return redirect(url_for("invoices.index"))
    if len(ids) > limit:
        abort(400, _("At most %(count)d invoices can be paid together.", count=limit))
    found = db.session.scalars(
        scoped(invoices.Invoice)
        .where(invoices.Invoice.id.in_(ids))
        .order_by(invoices.Invoice.number)
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
            error = flow.refusal(failure)
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
        methods=flow.method_choices(total) if can_pay else [],
    ), (422 if error and request.method == "POST" else 200)  # the payment is refused
