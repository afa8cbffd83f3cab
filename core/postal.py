"""Postal providers: the interface between Guichet's postal mail app and a service
that prints, envelopes and posts letters (a print shop, a hybrid-mail operator).

A plugin offers a provider by returning its class from ``guichet_postal_providers``;
the core makes one instance per Flask app. The postal app only calls the methods
below::

    provider = postal_provider()
    price = provider.price(pages=2, options=LetterOptions(colour=False))
    reference = provider.submit(letter)          # from a background job, idempotent
    state = provider.state(reference)            # polling; or a signed webhook

Statuses: ``submitted``, ``accepted``, ``printed``, ``posted``, ``delivered``,
``returned``, ``failed``, ``cancelled``. :func:`may_move` says which changes are
allowed. A letter that fails or is cancelled before it is printed is refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flask import Flask, current_app

from core.payments import Provider

STATUSES = (
    "submitted",
    "accepted",
    "printed",
    "posted",
    "delivered",
    "returned",
    "failed",
    "cancelled",
)
FINAL = frozenset({"delivered", "returned", "failed", "cancelled"})
REFUNDED = frozenset({"failed", "cancelled"})  # refunded when it happens before printing
_ORDER = {"submitted": 0, "accepted": 1, "printed": 2, "posted": 3}


def may_move(old: str, new: str) -> bool:
    """Forward only, never out of a final state."""
    if old in FINAL or new == old or new not in STATUSES:
        return False
    return new in FINAL or _ORDER[new] > _ORDER[old]


class PostalError(Exception):
    """The provider refused the letter or could not be reached; ``retry`` is true when
    trying again later may succeed."""

    def __init__(self, message: str, retry: bool = False):
        super().__init__(message)
        self.message, self.retry = message, retry


@dataclass(frozen=True)
class LetterOptions:
    """How a letter is printed and posted."""

    colour: bool = False
    duplex: bool = False
    registered: bool = False  # recommandé avec accusé de réception
    priority: bool = False


@dataclass(frozen=True)
class OutgoingLetter:
    """What a provider receives: ``pdf`` is print-ready (the address in the envelope
    window), ``address`` its lines, ``reference`` our stable id (submitting the same
    reference twice must post one letter)."""

    reference: str
    pdf: bytes
    pages: int
    address: tuple[str, ...]
    country: str
    options: LetterOptions


@dataclass(frozen=True)
class LetterState:
    """A letter's state at the provider."""

    status: str
    detail: str = ""


class PostalProvider(Provider):
    """The base class of postal providers. Subclass it, set ``key`` and ``name``,
    implement the methods, return the class from ``guichet_postal_providers``. An
    instance is made per Flask app with the app's configuration."""

    #: the options this provider offers (a letter asking for another is refused)
    offers: ClassVar[frozenset[str]] = frozenset({"colour", "duplex", "registered", "priority"})

    def price(self, pages: int, options: LetterOptions) -> int:
        """The price in cents of a letter of ``pages`` pages."""
        raise NotImplementedError

    def submit(self, letter: OutgoingLetter) -> str:
        """Hand the letter over; returns the provider's reference. Raises
        :class:`PostalError`."""
        raise NotImplementedError

    def state(self, reference: str) -> LetterState | None:
        """The letter's state, or ``None`` when nothing new is known."""
        raise NotImplementedError

    def cancel(self, reference: str) -> bool:
        """Try to stop the letter; true when it will not be printed."""
        return False


def postal_providers(app: Flask | None = None) -> dict[str, PostalProvider]:
    """Every installed provider, by key (one instance per app, made on first use)."""
    from core.appsystem import provider_instances

    return provider_instances(app or current_app, "guichet_postal_providers")


def postal_provider(app: Flask | None = None) -> PostalProvider | None:
    """The provider letters go through: ``POSTAL_PROVIDER`` when set, else the first."""
    app = app or current_app
    providers = postal_providers(app)
    chosen = app.config.get("POSTAL_PROVIDER")
    if chosen:
        return providers.get(chosen)
    return next(iter(providers.values()), None)
