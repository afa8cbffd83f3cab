"""Approved e-invoicing platforms ("plateformes agréées"): the interface between the
e-invoicing app and a platform that carries e-invoices to buyers and their statuses
back, in the spirit of the payment and postal providers.

A plugin offers a platform by returning its class from
``guichet_einvoicing_platforms``; the core makes one instance per Flask app. The
e-invoicing app only calls the two methods below::

    platform = einvoicing_platform()
    remote_id = platform.transmit(Deposit(number="62268557", ...))
    statuses, cursor = platform.statuses(cursor)   # by the worker, every few minutes

Statuses carry the codes of the French reform's lifecycle (``200`` Déposée, ``212``
Encaissée, ``213`` Rejetée...); the app records each against the invoice's history,
never backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Flask, current_app

from core.payments import Provider


class PlatformError(Exception):
    """The platform refused the request or could not be reached. ``message`` is safe to
    show to operators; ``retry`` is true when trying again later may succeed (the
    network, a 5xx answer), false when the platform refused the document itself."""

    def __init__(self, message: str, retry: bool = False):
        super().__init__(message)
        self.message, self.retry = message, retry


@dataclass(frozen=True)
class Deposit:
    """An e-invoice to transmit: the file as the customer downloads it (``flavor``
    ``factur-x`` or ``ubl``), the buyer's SIREN and routing address (its address in
    the directory, when the invoice gives one), and a key that stays the same for this
    content, so a deposit sent twice is received once."""

    number: str
    kind: str  # "invoice" or "credit_note"
    flavor: str
    filename: str
    media_type: str
    content: bytes
    buyer_siren: str
    buyer_routing_id: str
    idempotency_key: str


@dataclass(frozen=True)
class PlatformStatus:
    """A status the platform reports of an invoice it carried: the invoice's
    ``number``, the lifecycle ``code`` (``"200"``...), its day and reason."""

    number: str
    code: str
    on_date: date
    reason: str = ""


class EinvoicingPlatform(Provider):
    """The base class of e-invoicing platforms. Subclass it, set ``key`` and ``name``,
    implement :meth:`transmit` and :meth:`statuses`, return the class from
    ``guichet_einvoicing_platforms``. One instance is made per Flask app with the
    app's configuration; it must be safe to use from several threads.

    What an implementation must never do:

    - transmit without the ``idempotency_key`` it is given: a retry would deposit the
      invoice twice, and the buyer would be asked to pay it twice;
    - change the document it is given: it was checked against EN 16931, and it is
      what the customer downloads from the portal;
    - write our records: it reports (the platform's id of a deposit, statuses), the
      e-invoicing app records them, once, along the lifecycle's allowed steps;
    - put a secret in a :class:`PlatformError` message: operators see it.
    """

    def transmit(self, deposit: Deposit) -> str:
        """Deposit an e-invoice; returns the platform's id of it. Raises
        :class:`PlatformError`."""
        raise NotImplementedError

    def statuses(self, cursor: str) -> tuple[list[PlatformStatus], str]:
        """The statuses reported since ``cursor`` ("" the first time), oldest first, and
        the cursor to ask from next time. Raises :class:`PlatformError`."""
        raise NotImplementedError


def einvoicing_platforms(app: Flask | None = None) -> dict[str, EinvoicingPlatform]:
    """Every installed platform, by key (one instance per app, made on first use)."""
    from core.appsystem import provider_instances

    return provider_instances(app or current_app, "guichet_einvoicing_platforms")


def einvoicing_platform(app: Flask | None = None) -> EinvoicingPlatform | None:
    """The platform e-invoices go through: ``EINVOICING_PLATFORM`` when set (and
    configured); ``None`` otherwise: the portal transmits nothing, the provider's
    billing system does."""
    app = app or current_app
    chosen = app.config.get("EINVOICING_PLATFORM")
    platform = einvoicing_platforms(app).get(chosen) if chosen else None
    return platform if platform is not None and platform.configured else None
