"""The e-mail a customer gets when an operator answers, sent by the worker.

Exactly once: the task first claims the message with a committed update (only one
run can set ``notified_at``), then sends. A retry after a failed send finds the claim
released; a run after a successful one finds nothing to do.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import update

from core.plugin_api import Organisation, db, external_url, send_email, task, utcnow
from core.plugin_api import gettext as _

from .models import Ticket, TicketMessage


@task(kind="mail", retries=5, retry_delay=60)
def notify_reply(message_id: int) -> bool:
    """E-mail the request's author about the operator's message ``message_id``;
    returns whether an e-mail went out."""
    claimed = db.session.execute(
        update(TicketMessage)
        .where(TicketMessage.id == message_id, TicketMessage.notified_at.is_(None))
        .values(notified_at=utcnow())
    ).rowcount
    db.session.commit()
    message = db.session.get(TicketMessage, message_id)
    if not claimed or message is None:
        return False
    ticket: Ticket = message.ticket
    author = ticket.author
    if author is None or not author.active:
        return False
    organisation = db.session.get(Organisation, ticket.organisation_id)
    with force_locale(author.locale or organisation.locale):
        subject = _(
            "Answer to your request #%(number)d: %(subject)s",
            number=ticket.id,
            subject=ticket.subject,
        )
        body = render_template(
            "tickets/reply_email.txt",
            ticket=ticket,
            message=message,
            link=external_url("tickets.detail", ticket_id=ticket.id),
        )
    try:
        return send_email([author.email], subject, body)
    except Exception:
        release = update(TicketMessage).where(TicketMessage.id == message_id)
        db.session.execute(release.values(notified_at=None))
        db.session.commit()
        raise  # the queue tries again later
