"""E-mail through the installation's mail settings (Flask-Mailman).

Nothing is sent while no SMTP server is configured (``MAIL_SERVER``), unless a local
backend is chosen (``MAIL_BACKEND = "console"`` prints e-mails: the README's run
command uses it). Pages that promise an e-mail should say so when
:func:`mail_configured` is false.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager

from flask import current_app
from flask_babel import force_locale
from flask_mailman import EmailMessage

from core.metrics import EMAILS

LOCAL_BACKENDS = ("console", "file", "locmem")


def mail_configured() -> bool:
    """Whether operators configured an SMTP server, or a local backend."""
    config = current_app.config
    return bool(config.get("MAIL_SERVER")) or config.get("MAIL_BACKEND") in LOCAL_BACKENDS


def send_email(
    to: Iterable[str],
    subject: str,
    body: str,
    attachments: Iterable[tuple[str, bytes, str]] = (),
    headers: dict[str, str] | None = None,
) -> bool:
    """Send a plain-text e-mail now; ``attachments`` are ``(file name, content, MIME
    type)``. Returns ``False`` (and sends nothing) when mail is not configured; an
    SMTP failure raises (``smtplib.SMTPException`` or ``OSError``). Send from a
    background task (``core.plugin_api.task``) so a slow server never holds up a page,
    and record what was sent so a retry does not send it twice."""
    if not mail_configured():
        return False
    message = EmailMessage(subject, body, to=list(to), headers=headers or {})
    for name, content, mimetype in attachments:
        message.attach(name, content, mimetype)
    message.send()
    EMAILS.inc()
    return True


def admin_emails(organisation_id: int) -> list[str]:
    """The e-mail addresses of the organisation's active admins, sorted: who hears of
    what concerns the whole organisation (its wallet, its mandates)."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Membership, User

    return list(
        db.session.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organisation_id == organisation_id,
                Membership.role == "admin",
                Membership.suspended_at.is_(None),
                User.active.is_(True),
            )
            .order_by(User.email)
        )
    )


@contextmanager
def organisation_language(organisation_id: int) -> Iterator[None]:
    """Write (an e-mail, a letter) in the organisation's language, or the portal's
    default where it chose none: ``with organisation_language(org_id): ...``."""
    from core.extensions import db
    from core.models import Organisation

    organisation = db.session.get(Organisation, organisation_id)
    chosen = organisation.locale if organisation is not None else None
    with force_locale(chosen or current_app.config["BABEL_DEFAULT_LOCALE"]):
        yield


def user_language(user) -> AbstractContextManager[None]:
    """Write (an e-mail) in the user's language, or the portal's default:
    ``with user_language(user): ...``."""
    return force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"])
