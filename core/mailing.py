"""E-mail through the installation's mail settings (Flask-Mailman).

Nothing is sent while no SMTP server is configured (``MAIL_SERVER``), unless a local
backend is chosen (``MAIL_BACKEND = "console"`` prints e-mails: the README's run
command uses it). Pages that promise an e-mail should say so when
:func:`mail_configured` is false.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from flask_mailman import EmailMessage

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
    return True
