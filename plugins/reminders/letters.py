"""Reminder letters: at a ``post`` step the invoice is reminded by a letter the
provider posts to the organisation at its own cost (the postal app's
``send_letter``: not paid from the customer's wallet). The letter is a one-page PDF
with the envelope window left free for the address the postal app prints there; its
key is the reminder's, so a reminder posted again (a worker stopped) is one letter."""

from __future__ import annotations

import io
from datetime import date

from flask import current_app, render_template

from core.plugin_api import (
    FONTS_FOLDER,
    Organisation,
    db,
    money,
    organisation_language,
    render_pdf,
)
from core.plugin_api import gettext as _
from plugins.payments import public as payments
from plugins.postal import public as postal

from .models import Reminder


def address_of(invoice, organisation: Organisation) -> str:
    """Where the letter goes: the invoice's recipient, else the organisation."""
    if invoice.recipient_address.strip():
        return f"{invoice.recipient_name or organisation.name}\n{invoice.recipient_address}"
    return f"{organisation.name}\n{organisation.address or ''}"


def letter_pdf(reminder: Reminder, invoice, organisation: Organisation) -> bytes:
    """The reminder letter, in the organisation's language."""
    with organisation_language(organisation.id):
        html = render_template(
            "reminders/letter.html",
            fonts=FONTS_FOLDER,
            issuer=current_app.config["ISSUER"],
            invoice=invoice,
            organisation=organisation,
            today=date.today(),
            due=money(invoice.amount_due, invoice.currency),
            pay=payments.payment_link(invoice),
        )
    out = io.BytesIO()
    errors = render_pdf(html, out)
    if errors:
        raise RuntimeError(f"the reminder letter of {invoice.number} did not render")
    return out.getvalue()


def post(reminder: Reminder, invoice) -> str:
    """Post the reminder; returns ``""`` once the postal app has the letter (it
    follows it to delivery), else why it was not posted."""
    organisation = db.session.get(Organisation, reminder.organisation_id)
    try:
        postal.send_letter(
            reminder.organisation_id,
            reminder.account_id,
            f"reminder-{reminder.id}",
            _("Reminder: invoice %(number)s", number=invoice.number),
            letter_pdf(reminder, invoice, organisation),
            address_of(invoice, organisation),
        )
    except postal.LetterRefused as refused:
        return f"not posted: {refused}"[:500]
    return ""
