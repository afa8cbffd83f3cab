"""Paying one invoice without login, from its payment link, where the operators allow
it (``PAYMENT_LINKS_WITHOUT_LOGIN``): the page shows that invoice's number, date and
amount due and nothing else of the organisation; the payment and its state page are
reached through the link's signature alone. Ungated, so each route checks the link."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from core.plugin_api import (
    PaymentError,
    browser_url,
    db,
    enabled_app_keys,
    limiter,
    payment_providers,
)
from core.plugin_api import gettext as _
from plugins.invoices import public as invoices

from . import flow
from .links import guests_allowed, read_link
from .models import Payment, PaymentInvoice

guest = Blueprint("payments_guest", __name__, template_folder="templates")


def _invoice(token: str) -> invoices.Invoice:
    """The invoice the link names, where guests may pay it; 404 otherwise."""
    invoice_id = read_link(token) if guests_allowed() else None
    invoice = db.session.get(invoices.Invoice, invoice_id) if invoice_id else None
    if invoice is None:
        abort(404)
    organisation = invoice.organisation_id
    if invoices.APP_KEY not in enabled_app_keys(organisation) or not flow.available(organisation):
        abort(404)
    return invoice


@guest.route("/<token>", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def pay(token: str):
    """The invoice and a button that starts its payment; someone logged in goes the
    logged-in way (their scope, their payments page)."""
    invoice = _invoice(token)
    if current_user.is_authenticated:
        return redirect(url_for("payments.link", token=token))
    busy = invoice.id in flow.open_payments_for([invoice.id])
    error = ""
    if request.method == "POST" and invoice.amount_due > 0 and not busy:
        try:
            payment = flow.start(
                "invoices",
                invoice.organisation_id,
                invoice.account_id,
                invoice.amount_due,
                _("Invoice %(number)s", number=invoice.number),
                None,
                invoices=[(invoice.id, invoice.amount_due)],
                back=lambda payment_id: browser_url(
                    "payments_guest.state", token=token, payment_id=payment_id
                ),
            )
        except PaymentError as failure:
            error = flow.refusal(failure)
        else:
            return redirect(flow.checkout_target(payment), 303)
    return render_template(
        "payments/guest.html", invoice=invoice, busy=busy, error=error, token=token
    ), (422 if error else 200)


@guest.get("/<token>/<int:payment_id>")
def state(token: str, payment_id: int):
    """Where the provider sends the payer back: the state of that payment of that
    invoice (asked of the provider while it is open)."""
    invoice = _invoice(token)
    link = db.session.get(PaymentInvoice, (payment_id, invoice.id))
    payment = db.session.get(Payment, payment_id) if link is not None else None
    if payment is None:
        abort(404)
    if payment.is_open and payment.provider_id:
        try:
            payment = flow.sync(payment)
        except (PaymentError, flow.Busy, flow.Mismatch):
            db.session.rollback()
            payment = db.session.get(Payment, payment_id)
    from .views import STATUS_LABELS, STATUS_MESSAGES

    return render_template(
        "payments/guest_state.html",
        invoice=invoice,
        payment=payment,
        labels=STATUS_LABELS,
        messages=STATUS_MESSAGES,
        provider=payment_providers().get(payment.provider),
        token=token,
    )
