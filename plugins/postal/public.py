"""The postal app's public contract: what another app may use to send a letter on the
provider's account (a reminder letter the provider sends its customer), not paid from
the organisation's wallet and not among the letters its people sent. An app imports
this module and nothing else of the postal app (an import-linter contract holds it)."""

from __future__ import annotations

from core.plugin_api import LetterOptions, postal_provider, store_document

from .address import check_address
from .models import Letter
from .printing import DocumentError, check_document, printed_pages
from .sending import send

APP_KEY = "postal"


class LetterRefused(ValueError):
    """The letter cannot be sent: its address breaks the rules, its PDF cannot be
    posted, or no postal provider is configured; the message says which."""


def send_letter(
    organisation_id: int,
    account_id: int,
    key: str,
    title: str,
    pdf: bytes,
    address: str,
    country: str = "FR",
) -> int:
    """Post ``pdf`` to ``address`` (lines of an envelope) on the provider's account,
    for the organisation's account ``account_id``; returns the letter's id. ``key``
    makes it idempotent: a second call with it returns the first letter. The letter
    is followed like any other (the operators' desk shows it). Raises
    :class:`LetterRefused`."""
    lines, errors = check_address(address, country)
    if errors:
        raise LetterRefused("; ".join(errors))
    try:
        check_document(pdf)
    except DocumentError as error:
        raise LetterRefused(str(error)) from None
    provider = postal_provider()
    if provider is None:
        raise LetterRefused("no postal provider is configured")
    pages, _cover = printed_pages(pdf)
    options = LetterOptions()
    letter = Letter(
        organisation_id=organisation_id,
        account_id=account_id,
        key=key,
        provider=provider.key,
        document_sha256=store_document(pdf),
        title=title,
        pages=pages,
        address=lines,
        country=country,
        price=provider.price(pages, options),
        payer="provider",
    )
    return send(letter).id


__all__ = ["APP_KEY", "LetterRefused", "send_letter"]
