"""Secrets kept sealed in the database (an authenticator app's shared secret):
encrypted and authenticated with Fernet (``cryptography``) under a key derived from
``SECRET_KEY`` by HKDF-SHA256, so that a copy of the database alone does not give
them away. A key in ``SECRET_KEY_FALLBACKS`` (Flask's setting for a rotated key)
still opens what it sealed. A value written before sealing existed (no prefix) is
read as it is and sealed the next time it is written."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "fernet:"


def _key(secret: str | bytes) -> Fernet:
    material = secret.encode() if isinstance(secret, str) else secret
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"guichet-sealing")
    return Fernet(base64.urlsafe_b64encode(derived.derive(material)))


def _fernet() -> MultiFernet:
    config = current_app.config
    keys = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]
    return MultiFernet([_key(k) for k in keys])


def seal(value: str) -> str:
    """``value`` encrypted for the database (``fernet:…``)."""
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def unseal(stored: str) -> str:
    """The value :func:`seal` stored (a value from before sealing: as it is). Raises
    :class:`ValueError` when no key of this installation opens it."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("a sealed secret no key of this installation opens") from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
