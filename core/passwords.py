"""Password hashing with argon2 (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete

from core.extensions import db
from core.models import User, UserSession

MIN_LENGTH = 10
# argon2id with OWASP's recommended minimum (19 MiB, 2 iterations, 1 lane): strong, and
# fast enough for a login under 150 ms on a small server. Older hashes are upgraded
# on the next successful login (check_needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the e-mail is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("guichet-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is the user's; rehashes when the parameters changed."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def set_password(user: User, password: str, keep: str | None = None) -> None:
    """Set a new password and end every session of the user (its remember cookies
    too) but the one whose token is ``keep`` (the session that changed it)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password shorter than {MIN_LENGTH} characters")
    user.password_hash = hash_password(password)
    if user.id is not None:
        others = delete(UserSession).where(UserSession.user_id == user.id)
        db.session.execute(others if keep is None else others.where(UserSession.token != keep))
