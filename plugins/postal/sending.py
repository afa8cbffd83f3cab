"""A letter's life: :func:`send` pays for it and records it in one transaction, the
``submit`` task hands it to the provider, :func:`poll` brings its states in, and a
letter that fails or is cancelled before it is printed is refunded, once."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.plugin_api import (
    LETTER_FINAL as FINAL,
)
from core.plugin_api import (
    LETTER_REFUNDED as REFUNDED,
)
from core.plugin_api import (
    LetterOptions,
    OutgoingLetter,
    PostalError,
    db,
    ledger,
    read_stored,
    resume_stuck,
    task,
    utcnow,
)
from core.plugin_api import (
    letter_may_move as may_move,
)
from core.plugin_api import (
    postal_providers as providers,
)

from .models import Letter, LetterEvent
from .printing import print_ready

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
#: A letter still queued this long after its last change has lost its submission (the
#: worker holding it stopped): longer than every try of :func:`submit` together (about
#: 64 minutes), so a letter between two tries is never taken for one.
STUCK = timedelta(hours=3)


def reference_of(letter: Letter) -> str:
    return f"L{letter.id:08d}"


def options_of(letter: Letter) -> LetterOptions:
    return LetterOptions(letter.colour, letter.duplex, letter.registered, letter.priority)


def send(letter: Letter) -> Letter:
    """Debit the wallet (unless the provider pays) and record ``letter`` (status
    ``queued``) in one transaction, then queue its submission. A second send with the
    same key returns the first letter and debits nothing;
    :class:`ledger.InsufficientFunds` leaves nothing written."""
    existing = db.session.scalar(select(Letter).where(Letter.key == letter.key))
    if existing is not None:
        return existing
    try:
        db.session.add(letter)
        db.session.flush()
        letter.events.append(LetterEvent(status="queued"))
        if letter.payer == "wallet":
            ledger.post(
                letter.organisation_id,
                "postage",
                -letter.price,
                f"letter:{letter.key}",
                reason=f"Courrier : {letter.address[0]}",
                reference=reference_of(letter),
                user_id=letter.user_id,
            )
        db.session.commit()
    except IntegrityError:  # the same letter confirmed twice at once: the other one won
        db.session.rollback()
        return db.session.scalar(select(Letter).where(Letter.key == letter.key))
    submit(letter.id)
    return letter


def submission_failed(letter_id: int, error: Exception) -> None:
    """The last try to hand a letter over failed: it fails, with the reason, and is
    refunded."""
    letter = db.session.scalar(select(Letter).where(Letter.id == letter_id).with_for_update())
    if letter is not None and letter.status == "queued":
        move(letter, "failed", _reason(error))
        db.session.commit()


def _reason(error: Exception) -> str:
    if isinstance(error, PostalError):
        return error.message
    return f"{type(error).__name__}: {error}"[:500]


@task(kind="postal", retries=MAX_ATTEMPTS - 1, on_failure=submission_failed)
def submit(letter_id: int) -> None:
    """Hand a queued letter to its provider (idempotent: the provider gets our stable
    reference, and a letter already submitted is left alone). A failure is tried again
    with a growing delay, unless the provider says it is final; the last one fails the
    letter, which is refunded."""
    letter = db.session.get(Letter, letter_id)
    if letter is None or letter.status != "queued":
        return
    provider = providers().get(letter.provider)
    try:
        if provider is None:
            raise PostalError(f"the postal provider {letter.provider!r} is not installed", True)
        pdf, pages, _cover = print_ready(read_stored(letter.document_sha256), letter.address)
        letter.reference = provider.submit(
            OutgoingLetter(
                reference_of(letter),
                pdf,
                pages,
                tuple(letter.address),
                letter.country,
                options_of(letter),
            )
        )
    except PostalError as error:
        if error.retry:
            raise
        move(letter, "failed", error.message)
        db.session.commit()
        return
    move(letter, "submitted")
    db.session.commit()


def resume() -> int:
    """Queue again the submission of letters a stopped worker left queued (a task it
    held is gone with it); returns how many. Their clock restarts, so a letter is
    resumed once per :data:`STUCK`. Run by the job queue every 15 minutes."""
    waiting = Letter.status == "queued"
    most = current_app.config["POSTAL_POLL_BATCH"]
    # submit is idempotent: a letter submitted meanwhile is left alone
    stuck = resume_stuck(Letter.id, waiting, Letter.updated_at, STUCK, submit, most)
    if stuck:
        log.warning("%d letter(s) left queued by a stopped worker, submitted again", len(stuck))
    return len(stuck)


def move(letter: Letter, status: str, detail: str = "") -> bool:
    """Take ``letter`` to ``status`` if allowed (queued letters may go anywhere), with
    an event; refunds it, once, when it fails or is cancelled before printing. Does
    not commit."""
    if letter.status != "queued" and not may_move(letter.status, status):
        return False
    printed = letter.status in ("printed", "posted")
    letter.status, letter.updated_at = status, utcnow()
    letter.events.append(LetterEvent(status=status, detail=detail))
    if status in REFUNDED and not printed and not letter.refunded and letter.payer == "wallet":
        ledger.post(
            letter.organisation_id,
            "refund",
            letter.price,
            f"letter-refund:{letter.key}",
            reason=f"Courrier non envoyé : {letter.address[0]}",
            reference=reference_of(letter),
        )
        letter.refunded = True
    return True


def cancel(letter: Letter) -> bool:
    """Stop a letter before it is printed: a queued one at once, a submitted one if
    the provider still can; it is refunded. Commits; false when it is too late."""
    locked = db.session.scalar(select(Letter).where(Letter.id == letter.id).with_for_update())
    if locked.status == "submitted":
        provider = providers().get(locked.provider)
        if provider is None or not provider.cancel(locked.reference):
            db.session.rollback()
            return False
    elif locked.status != "queued":
        db.session.rollback()
        return False
    move(locked, "cancelled")
    db.session.commit()
    return True


def poll() -> int:
    """Ask the providers about letters still on their way; returns how many changed.
    Run by the job queue every few minutes."""
    pending = db.session.scalars(
        select(Letter)
        .where(Letter.status.not_in((*FINAL, "queued")))
        .order_by(Letter.id)
        .limit(current_app.config["POSTAL_POLL_BATCH"])
    ).all()
    changed = 0
    for letter in pending:
        provider = providers().get(letter.provider)
        state = provider.state(letter.reference) if provider and letter.reference else None
        if state is None or state.status == letter.status:
            continue
        locked = db.session.scalar(
            select(Letter).where(Letter.id == letter.id).with_for_update()
        )  # the row, so that a cancellation racing with the poll refunds once
        if move(locked, state.status, state.detail):
            changed += 1
        db.session.commit()
    return changed
