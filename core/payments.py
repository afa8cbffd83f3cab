"""Payment providers: the interface between Guichet's payment code and a payment
service (Mollie is one), in the spirit of pretix's ``BasePaymentProvider``.

A plugin offers a provider by returning its class from ``guichet_payment_providers``;
the core makes one instance per Flask app. The code that takes payments (the wallet's
top-ups, paying invoices) only calls the methods below, with amounts in cents::

    provider = payment_provider()
    remote = provider.create(PaymentRequest(amount=5000, currency="EUR", ...))
    redirect(remote.checkout_url)
    ...
    remote = provider.fetch(remote.id)       # on the webhook and the return page
    if remote.status == "paid": ...

Statuses are Mollie's, which most services map onto: ``open`` (created, the customer
has not finished), ``pending``, ``authorized``, then one final state of ``paid``,
``failed``, ``canceled`` or ``expired``. :func:`may_move` says which changes are
allowed: a state never goes back, and a final state never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, ClassVar

from flask import Flask, current_app

FINAL = frozenset({"paid", "failed", "canceled", "expired"})
STATUSES = ("open", "pending", "authorized", "paid", "failed", "canceled", "expired")
_ORDER = {"open": 0, "pending": 1, "authorized": 2}


def may_move(old: str, new: str) -> bool:
    """Whether a payment may go from ``old`` to ``new``: forward only, never out of a
    final state (a webhook replayed late, or the return page and a webhook racing,
    cannot take a paid payment back to open)."""
    if old in FINAL or new == old or new not in STATUSES:
        return False
    return new in FINAL or _ORDER[new] > _ORDER[old]


class PaymentError(Exception):
    """The provider refused the request or could not be reached. ``message`` is safe
    to show to the customer; ``field`` names the faulty input when the provider said;
    ``retry`` is true when trying again later may succeed (network, 5xx)."""

    def __init__(self, message: str, field: str | None = None, retry: bool = False):
        super().__init__(message)
        self.message, self.field, self.retry = message, field, retry


@dataclass(frozen=True)
class PaymentRequest:
    """What to ask the provider for. ``amount`` in cents; ``reference`` is our own
    payment id, sent back in ``metadata``; ``idempotency_key`` is stable for this
    payment, so a request sent twice creates one payment."""

    amount: int
    currency: str
    description: str
    reference: str
    return_url: str
    webhook_url: str
    idempotency_key: str
    locale: str = "fr_FR"
    method: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: ``oneoff``; ``first``: the customer pays at the checkout, and the card paid with
    #: becomes a mandate of ``customer_id`` (reported as :attr:`RemotePayment.mandate`);
    #: ``recurring`` charges ``mandate_id`` of ``customer_id`` without the customer (no
    #: checkout: the payment is ``pending`` until the bank answers)
    sequence: str = "oneoff"
    customer_id: str | None = None
    mandate_id: str | None = None


@dataclass(frozen=True)
class RemotePayment:
    """A payment as the provider reports it. ``refunded`` and ``charged_back`` in cents;
    ``checkout_url`` is where the customer pays while the payment is open."""

    id: str
    status: str
    amount: int
    currency: str
    metadata: dict[str, Any]
    checkout_url: str | None = None
    refunded: int = 0
    charged_back: int = 0  # taken back by the customer's bank (a chargeback)
    method: str | None = None
    paid_at: datetime | None = None
    failure: str = ""  # why the bank refused it (a direct debit's reason), when it says
    #: the mandate a paid ``first`` payment left (the card it was paid with)
    mandate: RemoteMandate | None = None


@dataclass(frozen=True)
class MandateRequest:
    """A SEPA Direct Debit mandate the customer signed: who signed it, the account it
    may debit (an IBAN already checked, and its BIC where the bank needs one), the day
    it was signed, and our reference for it (shown on the debtor's bank statement)."""

    signatory: str
    iban: str
    bic: str
    signed_on: date
    reference: str


@dataclass(frozen=True)
class RemoteMandate:
    """A mandate as the provider reports it: ``status`` is ``pending``, ``valid`` or
    ``invalid`` (revoked by the customer or the bank); ``account`` says which account
    without showing all of it (``FR76 •••• 0189``, a card's last digits)."""

    id: str
    status: str
    method: str
    account: str
    signatory: str = ""
    signed_on: date | None = None
    reference: str = ""


@dataclass(frozen=True)
class Method:
    """A way to pay the provider offers (card, bank transfer, ...)."""

    id: str
    label: str
    image_url: str = ""


@dataclass(frozen=True)
class Setting:
    """A configuration key the provider reads (documented on the plugins page)."""

    key: str
    help: str
    required: bool = True


class Provider:
    """What every provider class shares (payment services, postal providers, e-invoicing
    platforms): its ``key`` and ``name``, the ``settings`` it reads, and one instance
    per Flask app made with the app's configuration."""

    key: ClassVar[str] = ""
    name: ClassVar[str] = ""
    settings: ClassVar[tuple[Setting, ...]] = ()

    def __init__(self, config: dict[str, Any]):
        self.config = config

    @property
    def configured(self) -> bool:
        """Whether every required setting is present."""
        return all(self.config.get(s.key) for s in self.settings if s.required)


class PaymentProvider(Provider):
    """The base class of payment providers. Subclass it, set ``key`` and ``name``,
    implement the four methods, and return the class from
    ``guichet_payment_providers``. An instance is made per Flask app with the app's
    configuration; it must be safe to use from several threads.

    What an implementation must never do:

    - send a request without the ``idempotency_key`` it is given: a retry would
      create a second payment or refund, and charge the customer twice;
    - trust what arrives with a webhook: the core only ever acts on what
      :meth:`fetch` returns from the provider itself;
    - change the state of our records: it reports (:class:`RemotePayment`), the core
      applies, once, along the allowed transitions;
    - put a secret in a :class:`PaymentError` message: customers see it.
    """

    @property
    def test_mode(self) -> bool:
        """True when no real money moves (the portal says so to customers)."""
        return False

    @property
    def checkout_origin(self) -> str:
        """The origin of the provider's checkout pages (``https://pay.example.com``):
        the pages with a payment form let their forms lead there."""
        return ""

    def methods(self, amount: int, currency: str, locale: str) -> list[Method]:
        """The methods the customer may choose for this amount (may be empty: the
        provider's checkout then offers its own choice)."""
        return []

    def create(self, request: PaymentRequest) -> RemotePayment:
        """Create a payment; the customer is sent to its ``checkout_url``.
        Raises :class:`PaymentError`."""
        raise NotImplementedError

    def fetch(self, payment_id: str) -> RemotePayment:
        """The payment's current state at the provider. Raises :class:`PaymentError`."""
        raise NotImplementedError

    def refund(
        self, payment_id: str, amount: int, currency: str, description: str, idempotency_key: str
    ) -> str:
        """Refund ``amount`` cents of a paid payment; returns the refund's id.
        Raises :class:`PaymentError`."""
        raise NotImplementedError

    # --- charging without the customer (SEPA Direct Debit), where the provider can ---

    @property
    def recurring(self) -> bool:
        """Whether the provider keeps customers' mandates and takes ``recurring``
        payments on them (the methods below); ``False`` by default."""
        return False

    def create_customer(self, name: str, email: str, reference: str, idempotency_key: str) -> str:
        """Create the customer mandates belong to; returns its id. Raises
        :class:`PaymentError`."""
        raise NotImplementedError

    def create_mandate(
        self, customer_id: str, request: MandateRequest, idempotency_key: str
    ) -> RemoteMandate:
        """Record a direct-debit mandate the customer signed. Raises
        :class:`PaymentError` (an account the provider refuses: ``field`` says)."""
        raise NotImplementedError

    def fetch_mandate(self, customer_id: str, mandate_id: str) -> RemoteMandate:
        """The mandate's current state. Raises :class:`PaymentError`."""
        raise NotImplementedError

    def revoke_mandate(self, customer_id: str, mandate_id: str) -> None:
        """Revoke a mandate: no payment can be taken on it any more. Raises
        :class:`PaymentError`."""
        raise NotImplementedError


def payment_providers(app: Flask | None = None) -> dict[str, PaymentProvider]:
    """Every installed provider, by key (one instance per app, made on first use)."""
    from core.appsystem import provider_instances

    return provider_instances(app or current_app, "guichet_payment_providers")


def payment_provider(app: Flask | None = None) -> PaymentProvider | None:
    """The provider payments go through: ``PAYMENT_PROVIDER`` when set, else the only
    configured one; ``None`` when none is configured (online payment is then off)."""
    app = app or current_app
    providers = payment_providers(app)
    chosen = app.config.get("PAYMENT_PROVIDER")
    if chosen:
        return providers.get(chosen)
    ready = [p for p in providers.values() if p.configured]
    return ready[0] if ready else None


# --- what a payment is for ---------------------------------------------------------


@dataclass(frozen=True)
class PaymentFacts:
    """A payment as a purpose sees it, read with its row locked."""

    id: int
    organisation_id: int
    account_id: int
    user_id: int | None
    purpose: str
    amount: int
    currency: str
    provider_id: str | None
    load_targets: Callable[[], Iterable[tuple[int, int]]] = field(
        default=tuple, repr=False, compare=False
    )

    @cached_property
    def targets(self) -> tuple[tuple[int, int], ...]:
        """The (id, amount in cents) of what it pays, as given when it was started
        (the invoices of an ``invoices`` payment; none for a top-up); read on first
        use, so a purpose that needs none costs no query."""
        return tuple(self.load_targets())


@dataclass(frozen=True)
class PaymentChange:
    """One thing that happened to a payment. ``amount`` is what this change moves, in
    cents (what was paid, refunded or taken back by a chargeback); ``key`` is unique
    to this change and stable when it is applied again: post ledger entries under it
    (``ledger.post(..., key=change.key)``) and a retry changes nothing."""

    payment: PaymentFacts
    amount: int
    key: str
    reason: str = ""
    #: on a paid ``first`` payment: the mandate it left at the provider (a saved card)
    mandate: RemoteMandate | None = None


@dataclass
class PurposeOutcome:
    """What a purpose's handler reports: ``events`` (name, payload) are emitted once
    the payment's transaction is committed; ``problem`` is recorded on the payment for
    the operators; ``receipt_id`` is the invoice that receipts a payment, linked from
    its page."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problem: str = ""
    receipt_id: int | None = None


PurposeHandler = Callable[[PaymentChange], PurposeOutcome | None]


@dataclass(frozen=True)
class PaymentPurpose:
    """What a payment made for ``key`` (``"topup"``, ``"invoices"``) does to the data
    of app ``app_key``, returned by ``guichet_payment_purposes``. Each handler runs
    inside the payment's transaction, with the payment's row locked, exactly once per
    change (a webhook replayed finds the change applied): it writes its own app's
    tables, never commits, and may return a :class:`PurposeOutcome`. An exception
    rolls the whole change back (the payment stays as it was; the provider's webhook
    or the reconciliation applies it again later), so raise only when the change
    must not happen: ``on_refund`` raises :class:`ValueError` to refuse a refund
    (the wallet's :class:`~core.ledger.InsufficientFunds` is one).

    Several apps may serve one purpose, each on its own data: the wallet credits a
    paid top-up, the invoices app issues its receipt. Handlers run in the order the
    plugins were registered.

    - ``on_paid``: the money arrived (``change.amount`` is the payment's amount);
    - ``on_failed``: the payment ended without money (failed, cancelled, expired);
    - ``on_refund``: an operator refunds ``change.amount``, before the provider is asked;
    - ``on_refund_failed``: the provider refused that refund: undo ``on_refund``;
    - ``on_charged_back``: the customer's bank took ``change.amount`` back.
    """

    key: str
    app_key: str
    on_paid: PurposeHandler | None = None
    on_failed: PurposeHandler | None = None
    on_refund: PurposeHandler | None = None
    on_refund_failed: PurposeHandler | None = None
    on_charged_back: PurposeHandler | None = None


def payment_purposes(app: Flask | None = None) -> dict[str, list[PaymentPurpose]]:
    """Every purpose the installed apps serve, by key, each with the apps' parts in
    registration order (collected once per app)."""
    from core.appsystem import registry

    app = app or current_app
    found = app.extensions.get("guichet_purposes")
    if found is None:
        found = {}
        for purpose in registry(app).call("guichet_payment_purposes"):
            found.setdefault(purpose.key, []).append(purpose)
        app.extensions["guichet_purposes"] = found
    return found


def serve_purpose(handler: str, change: PaymentChange) -> PurposeOutcome:
    """Run ``handler`` (``"on_paid"``...) of every app serving the payment's purpose,
    in the caller's transaction; their outcomes merged (the last receipt wins)."""
    merged = PurposeOutcome()
    for purpose in payment_purposes().get(change.payment.purpose, ()):
        function = getattr(purpose, handler)
        outcome = function(change) if function is not None else None
        if outcome is not None:
            merged.events += outcome.events
            merged.problem = "; ".join(p for p in (merged.problem, outcome.problem) if p)
            merged.receipt_id = outcome.receipt_id or merged.receipt_id
    return merged


def collection_holds(invoice_ids: list[int]) -> dict[int, str]:
    """The invoices among ``invoice_ids`` that an app says must not be chased for
    payment now (``guichet_collection_holds``: a dispute open), each with why."""
    from core.appsystem import registry

    merged: dict[int, str] = {}
    if invoice_ids:
        for answer in registry(current_app).call(
            "guichet_collection_holds", invoice_ids=invoice_ids
        ):
            merged.update(answer)
    return merged
