"""A payment's life: :func:`start` asks the provider, :func:`sync` brings the
provider's state in (the webhook, the return page and the reconciliation all go
through it), :func:`refund` gives money back.

A state change is applied by :func:`apply` in one transaction, with the payment's row
locked, only along :func:`core.payments.may_move`, and after checking the provider's
payment against ours (id, amount, currency, our reference in its metadata). So a
webhook replayed, or racing with the return page, credits a wallet once: the second
one finds the payment paid already, and the wallet's entry key (``payment:<id>``)
refuses a second credit anyway.

What a payment does once paid, failed, refunded or charged back is its purpose's
(``guichet_payment_purposes``): the apps that own the data register it, and it runs
here, inside the payment's locked transaction; this app writes no other app's table."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import get_locale
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import OperationalError

from core.plugin_api import (
    LOCK_TIMEOUT,
    PaymentChange,
    PaymentError,
    PaymentFacts,
    PaymentRequest,
    RemotePayment,
    allow_form_action,
    browser_url,
    db,
    emit,
    enabled_app_keys,
    external_url,
    money,
    payment_provider,
    payment_providers,
    payment_purposes,
    record_activity,
    serve_purpose,
    utcnow,
)
from core.plugin_api import (
    PAYMENT_FINAL as FINAL,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from core.plugin_api import (
    payment_may_move as may_move,
)

from .models import OPEN, Payment, PaymentInvoice, PaymentRefund

log = logging.getLogger(__name__)
APP_KEY = "payments"
MOLLIE_LOCALES = {"fr": "fr_FR", "en": "en_US", "nl": "nl_BE", "de": "de_DE"}


class Busy(Exception):
    """The payment's row is locked by another request for too long: try again later."""


class Mismatch(ValueError):
    """The provider's payment does not match ours; nothing was applied."""


def available(organisation_id: int) -> bool:
    """Whether this organisation can pay online: the payments app is enabled for it and
    a provider is configured."""
    return APP_KEY in enabled_app_keys(organisation_id) and payment_provider() is not None


def allow_checkout() -> None:
    """Let forms lead to the provider's checkout: the answer to a payment form
    redirects there, and browsers check the redirect against the ``form-action`` of
    the page that holds the form, which with boosted navigation is the page first
    loaded. So every page allows it (see :func:`core.security.allow_form_action`)."""
    provider = payment_provider()
    if provider is not None and provider.checkout_origin:
        allow_form_action(provider.checkout_origin)


def method_choices(amount: int, currency: str = "EUR") -> list[tuple[str, object]]:
    """The payment methods to offer for ``amount`` as (id, label), the provider's
    choice on its payment page first (id ``""``)."""
    provider = payment_provider()
    offered = provider.methods(amount, currency, provider_locale()) if provider else []
    return [("", _l("Choose on the payment page")), *((m.id, m.label) for m in offered)]


def refusal(error: PaymentError) -> str:
    """What to tell a customer whose payment the provider refused."""
    return _("The payment service refused the payment: %(reason)s", reason=error.message)


def provider_locale() -> str:
    """The provider's locale for the current user's language (``fr_FR``, ``nl_BE``...);
    ``PAYMENTS_COUNTRY`` (``FR`` by default, ``BE`` for Belgium) picks the variant."""
    language = str(get_locale() or "fr").split("_")[0]
    country = current_app.config.get("PAYMENTS_COUNTRY", "FR")
    if country == "BE" and language in ("fr", "nl"):
        return f"{language}_BE"
    return MOLLIE_LOCALES.get(language, "en_US")


def start(
    purpose: str,
    organisation_id: int,
    account_id: int,
    amount: int,
    description: str,
    user_id: int | None,
    invoices: list[tuple[int, int]] = (),
    method: str | None = None,
    back: Callable[[int], str] | None = None,
    mandate: tuple[str, str] | None = None,
    key: str | None = None,
    save_for: str | None = None,
) -> Payment:
    """Record a payment of ``amount`` cents, then create it at the provider; the caller
    redirects the customer to its ``checkout_url``. ``invoices`` are the (id, amount)
    it pays; ``back(payment_id)`` the address the provider sends the payer back to
    (the payment's page by default). Raises :class:`PaymentError` when the provider
    refuses (the payment is then recorded as failed, with the reason).

    ``mandate`` (customer id, mandate id at the provider) charges a saved mandate
    without the customer: a ``recurring`` payment, with no checkout. ``key`` makes
    the start idempotent: a start with a key already used returns that payment
    (asking the provider again, under the same idempotency key, if it never heard
    the answer), so a task run twice charges once. ``save_for`` (a customer id at the
    provider) makes it a ``first`` payment: the card the customer pays with is saved
    as a mandate of that customer, handed to the purpose's ``on_paid``
    (:attr:`~core.payments.PaymentChange.mandate`)."""
    if purpose not in payment_purposes():
        raise ValueError(f"no installed app serves the payment purpose {purpose!r}")
    provider = payment_provider()
    if provider is None:
        raise PaymentError("online payment is not configured")
    payment = db.session.scalar(select(Payment).where(Payment.key == key)) if key else None
    if payment is not None and (payment.provider_id or payment.status != "open"):
        return payment
    if payment is None:
        payment = Payment(
            organisation_id=organisation_id,
            account_id=account_id,
            user_id=user_id,
            key=key or uuid.uuid4().hex,
            provider=provider.key,
            purpose=purpose,
            amount=amount,
            currency="EUR",
            description=description,
            status="open",
            invoices=[PaymentInvoice(invoice_id=i, amount=a) for i, a in invoices],
        )
        db.session.add(payment)
        db.session.commit()  # our record exists before the provider's
    sequence = (
        {"sequence": "recurring", "customer_id": mandate[0], "mandate_id": mandate[1]}
        if mandate
        else {"sequence": "first", "customer_id": save_for}
        if save_for
        else {}
    )
    payment = _create(provider, payment, method, back, sequence, keyed=key is not None)
    if user_id is not None and has_request_context():  # someone started it: their trail
        record_activity("payment.started", f"{payment.description} · {money(payment.amount)}")
    return payment


def _create(provider, payment: Payment, method, back, sequence: dict, keyed: bool) -> Payment:
    """Ask the provider for our recorded ``payment``. A refusal fails it; no answer
    leaves a keyed payment open, to ask again under the same key."""
    request = PaymentRequest(
        amount=payment.amount,
        currency=payment.currency,
        description=payment.description,
        reference=str(payment.id),
        return_url=back(payment.id)
        if back
        else browser_url("payments.show", payment_id=payment.id),
        webhook_url=external_url("payments_webhook.receive"),
        idempotency_key=payment.key,
        locale=provider_locale(),
        method=method,
        metadata={"payment_id": payment.id, "organisation_id": payment.organisation_id},
        **sequence,
    )
    try:
        remote = provider.create(request)
    except PaymentError as error:
        if not (error.retry and keyed):
            payment.status = "failed"
        payment.problem = error.message
        db.session.commit()
        raise
    payment.provider_id, payment.checkout_url = remote.id, remote.checkout_url
    if remote.status not in FINAL and may_move(payment.status, remote.status):
        payment.status = remote.status  # a direct debit is pending from the start
    db.session.commit()
    return payment


def sync(payment: Payment) -> Payment:
    """Fetch the payment's state from its provider and apply it. Raises
    :class:`PaymentError` (provider unreachable), :class:`Busy`, :class:`Mismatch`."""
    return settle(payment.id, payment.provider, payment.provider_id)


def status_of(payment_id: int, organisation_id: int) -> str | None:
    """The status of one of the organisation's payments, asked of the provider while
    it is open (the page the provider sends the payer back to may come before the
    webhook); ``None`` when the organisation has no such payment."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.organisation_id != organisation_id:
        return None
    if payment.is_open and payment.provider_id:
        try:
            payment = sync(payment)
        except (PaymentError, Busy, Mismatch):
            db.session.rollback()  # the webhook or the reconciliation applies it later
            payment = db.session.get(Payment, payment_id)
    return payment.status


def settle(payment_id: int, provider: str, provider_id: str) -> Payment:
    """:func:`sync` for the payment known by these columns (the webhook reads no more)."""
    return apply(payment_id, provider_of(provider).fetch(provider_id))


def provider_of(key: str):
    """The installed provider of this key; :class:`PaymentError` (worth retrying: an
    operator may install it again) when it is no longer installed."""
    provider = payment_providers().get(key)
    if provider is None:
        raise PaymentError(f"the payment provider {key!r} is not installed", retry=True)
    return provider


# Built once, as the webhook runs them for every payment: building one anew costs more
# than running it.
_LOCK = (
    update(Payment)
    .where(Payment.id == bindparam("payment_id"))
    .values(updated_at=bindparam("now"))
    .returning(Payment)
    .execution_options(populate_existing=True, synchronize_session=False)
)
BY_PROVIDER_ID = select(Payment.id, Payment.provider).where(
    Payment.provider_id == bindparam("provider_id")
)


def _lock(payment_id: int) -> Payment:
    """Take the payment's row for this transaction (a row lock on PostgreSQL, the
    write lock on SQLite), waiting at most ``PAYMENTS_LOCK_TIMEOUT`` seconds, and
    return it as it is now (one ``UPDATE … RETURNING``)."""
    waits = int(current_app.config.get("PAYMENTS_LOCK_TIMEOUT", 5) * 1000)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    patience = waits != LOCK_TIMEOUT  # else the connection's own (core.create_app) suffices
    try:
        if patience and sqlite:
            db.session.execute(text(f"PRAGMA busy_timeout = {waits}"))
        elif patience:
            db.session.execute(text(f"SET LOCAL lock_timeout = '{waits}ms'"))
        return db.session.scalars(_LOCK, {"payment_id": payment_id, "now": utcnow()}).one()
    except OperationalError as error:
        db.session.rollback()
        raise Busy(str(error)) from error
    finally:
        if patience and sqlite:  # the connection goes back to the pool with its usual patience
            db.session.connection().exec_driver_sql(f"PRAGMA busy_timeout = {LOCK_TIMEOUT}")


def _mismatch(payment: Payment, remote: RemotePayment) -> str:
    if remote.id != payment.provider_id:
        return f"the provider answered for {remote.id}, not {payment.provider_id}"
    if (remote.amount, remote.currency) != (payment.amount, payment.currency):
        return f"amount {remote.amount} {remote.currency} is not ours"
    if str(remote.metadata.get("payment_id")) != str(payment.id) or str(
        remote.metadata.get("organisation_id")
    ) != str(payment.organisation_id):
        return f"metadata {remote.metadata!r} does not name payment {payment.id} of ours"
    return ""


def apply(payment_id: int, remote: RemotePayment) -> Payment:
    """Apply the provider's state to our payment, once, and commit. Raises
    :class:`Busy` or :class:`Mismatch` (the mismatch is recorded on the payment)."""
    try:
        return _apply(payment_id, remote)
    except OperationalError as error:  # a lock held too long further on (the wallet's)
        db.session.rollback()
        raise Busy(str(error)) from error


def _apply(payment_id: int, remote: RemotePayment) -> Payment:
    payment = _lock(payment_id)
    problem = _mismatch(payment, remote)
    if problem:
        payment.problem = problem
        db.session.commit()
        log.warning("payment %s: %s; not applied", payment_id, problem)
        raise Mismatch(problem)
    events = []
    if may_move(payment.status, remote.status):
        if remote.status == "paid":  # first: the payment's own changes then go in one UPDATE
            events = _paid(payment, remote.mandate)
            payment.paid_at = remote.paid_at or utcnow()
        elif remote.status in FINAL:  # ended without money
            events = _serve(payment, "on_failed", 0, f"payment-{remote.status}:{payment.id}")
        payment.status = remote.status
        payment.method = remote.method or payment.method
        if remote.status in FINAL:
            payment.checkout_url = None
        payload = _payload(payment)
        if remote.status in FINAL and remote.status != "paid" and remote.failure:
            payload["reason"] = remote.failure  # the bank's words, for the customer
        events.append((f"payment.{remote.status}", payload))
    if payment.status == "paid" and remote.refunded > payment.refunded:
        payment.refunded = remote.refunded  # refunded at the provider's dashboard
    if payment.status == "paid" and remote.charged_back > payment.charged_back:
        events += _charged_back(payment, remote.charged_back)
    if events:  # who hears them, read in this transaction: emitting needs no other
        enabled_app_keys(payment.organisation_id)
    db.session.commit()
    for name, payload in events:
        emit(name, payload)
    return payment


def _payload(payment: Payment) -> dict:
    return {
        "organisation_id": payment.organisation_id,
        "payment_id": payment.id,
        "purpose": payment.purpose,
        "amount": payment.amount,
    }


def facts(payment: Payment) -> PaymentFacts:
    """The payment as its purposes see it (its targets read only if one asks)."""
    return PaymentFacts(
        payment.id,
        payment.organisation_id,
        payment.account_id,
        payment.user_id,
        payment.purpose,
        payment.amount,
        payment.currency,
        payment.provider_id,
        load_targets=lambda: ((link.invoice_id, link.amount) for link in payment.invoices),
    )


def _serve(
    payment: Payment, handler: str, amount: int, key: str, reason: str = "", mandate=None
) -> list:
    """Run the purpose's ``handler`` in this transaction; returns the events to emit
    once committed, and notes on the payment what the apps report."""
    change = PaymentChange(facts(payment), amount, key, reason, mandate)
    outcome = serve_purpose(handler, change)
    if outcome.receipt_id is not None:
        payment.receipt_id = outcome.receipt_id
    if outcome.problem:
        payment.problem = outcome.problem
    return outcome.events


def _paid(payment: Payment, mandate=None) -> list[tuple[str, dict]]:
    """What a paid payment does is its purpose's (the wallet credits a top-up and the
    invoices app issues its receipt; the invoices app marks paid invoices paid)."""
    return _serve(payment, "on_paid", payment.amount, f"payment:{payment.id}", mandate=mandate)


def _charged_back(payment: Payment, total: int) -> list[tuple[str, dict]]:
    """The customer's bank took money back: the purpose's apps undo what they can (the
    invoices it paid are to pay again, a top-up is taken back from the wallet as far
    as the balance allows, the rest is left to the operators)."""
    taken = total - payment.charged_back
    payment.charged_back = total
    events = _serve(payment, "on_charged_back", taken, f"chargeback:{payment.id}:{total}")
    return [*events, ("payment.charged_back", {**_payload(payment), "charged_back": total})]


def open_payments_for(invoice_ids: list[int]) -> dict[int, Payment]:
    """The payments still open on these invoices, by invoice id."""
    rows = db.session.execute(
        select(PaymentInvoice.invoice_id, Payment)
        .join(Payment, Payment.id == PaymentInvoice.payment_id)
        .where(PaymentInvoice.invoice_id.in_(invoice_ids), Payment.status.in_(OPEN))
    ).all()
    return {invoice_id: payment for invoice_id, payment in rows}


def reconcile() -> int:
    """Bring in the state of payments left open longer than expected (a lost webhook
    still ends right); returns how many were checked. Run by the job queue."""
    now = utcnow()
    after = timedelta(minutes=current_app.config["PAYMENTS_RECONCILE_AFTER_MINUTES"])
    limit = timedelta(days=current_app.config["PAYMENTS_RECONCILE_DAYS"])
    stale = db.session.scalars(
        select(Payment)
        .where(
            Payment.status.in_(OPEN),
            Payment.created_at < now - after,
            Payment.created_at > now - limit,
        )
        .order_by(Payment.id)
        .limit(500)
    ).all()
    checked = 0
    for payment in stale:
        if payment.provider_id is None:  # the provider never answered its creation
            payment.status, payment.problem = "failed", "never created at the provider"
            db.session.commit()
            continue
        try:
            sync(payment)
            checked += 1
        except (PaymentError, Busy, Mismatch) as error:
            db.session.rollback()
            log.warning("reconciling payment %s: %s", payment.id, error)
    return checked


def refund(payment: Payment, amount: int, reason: str) -> PaymentRefund:
    """Refund ``amount`` cents of a paid payment (an operator's act). The purpose's
    apps take it back first, in the same transaction (a top-up is debited from the
    wallet, or the refund refused when it is spent). The refund is recorded
    before the provider is asked, with its own idempotency key, so asking again after
    a lost answer refunds once. Raises :class:`ValueError` or :class:`PaymentError`."""
    if payment.status != "paid":
        raise ValueError("only a paid payment can be refunded")
    if not 0 < amount <= payment.amount - payment.refunded:
        raise ValueError(
            f"the amount must be between 0.01 and {(payment.amount - payment.refunded) / 100:.2f}"
        )
    before = payment.refunded
    row = PaymentRefund(
        organisation_id=payment.organisation_id,
        payment_id=payment.id,
        key=uuid.uuid4().hex,
        amount=amount,
        reason=reason,
    )
    db.session.add(row)
    _serve(payment, "on_refund", amount, f"refund:{row.key}", reason)  # may refuse it
    db.session.commit()
    provider = provider_of(payment.provider)
    try:
        row.provider_id = provider.refund(
            payment.provider_id, amount, payment.currency, reason, row.key
        )
    except PaymentError as error:
        if error.retry:  # the refund may have happened: keep it to ask again (same key)
            row.error = error.message
            db.session.commit()
            raise
        row.status, row.error = "failed", error.message
        _serve(payment, "on_refund_failed", amount, f"refund-failed:{row.key}", reason)
        db.session.commit()
        raise
    row.status = "done"
    _lock(payment.id)  # a webhook may have brought the provider's new total meanwhile
    db.session.refresh(payment)
    payment.refunded = max(payment.refunded, before + amount)
    db.session.commit()
    return row


def checkout_target(payment: Payment) -> str:
    """Where to send the customer: the provider's checkout, or our page once final."""
    return payment.checkout_url or url_for("payments.show", payment_id=payment.id)
