"""Security keys and passkeys (WebAuthn, the ``webauthn`` library) as a second factor,
beside the authenticator app: a user who has set the app up adds keys on the
two-factor page ("Mon compte" → "Double authentification"), then logs in with one
instead of typing a code. The app and the recovery codes stay the way back in.

Each ceremony's challenge is random, kept in the session and spent once; the relying
party is the host the browser shows (``WEBAUTHN_RP_ID`` when set) and the origin the
page's own. What the browser sends is verified by the library (challenge, origin,
relying party, signature, a signature counter that never goes back); anything else is
refused with a message and stores nothing. The browser's part is in ``guichet.js``
(``data-webauthn``): the page works without it, with the app's codes."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request, session
from flask import url_for as _url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from core import activity
from core.auth import finish_login
from core.extensions import db, limiter
from core.i18n import gettext as _
from core.models import SecurityKey, User, utcnow
from core.twofactor import _code_key, _pending_user

bp = Blueprint("securitykeys", __name__)
ADDING, LOGGING_IN = "webauthn_add", "webauthn_login"  # the session's challenges
MAX_KEYS = 10
#: what the library raises for an answer it cannot accept (and malformed JSON does)
REFUSED = (WebAuthnException, ValueError, KeyError, TypeError)


def keys_of(user: User) -> list[SecurityKey]:
    return list(
        db.session.scalars(
            select(SecurityKey).where(SecurityKey.user_id == user.id).order_by(SecurityKey.id)
        )
    )


def _relying_party() -> tuple[str, str]:
    """The relying party's id (a host name) and the origin the browser is on."""
    origin = f"{request.scheme}://{request.host}"
    return current_app.config.get("WEBAUTHN_RP_ID") or urlsplit(origin).hostname, origin


def _refused(message: str, status: int = 400):
    return jsonify(error=message), status


def _credential() -> dict | None:
    data = request.get_json(silent=True)
    credential = data.get("credential") if isinstance(data, dict) else None
    return credential if isinstance(credential, dict) else None


# --- adding a key ------------------------------------------------------------------


@bp.post("/securite/cles/options")
@login_required
@limiter.limit("30 per hour")
def add_options():
    """The options the browser creates a credential with (a fresh challenge)."""
    user = current_user._get_current_object()
    if not user.two_factor:
        return _refused(_("Set up an authenticator app first: it stays the way back in."))
    rp_id, _origin = _relying_party()
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=current_app.config["BRAND"].get("name") or "Guichet",
        user_name=user.email,
        user_id=str(user.id).encode(),
        user_display_name=user.display_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id))
            for k in keys_of(user)
        ],
    )
    session[ADDING] = bytes_to_base64url(options.challenge)
    return current_app.response_class(options_to_json(options), mimetype="application/json")


@bp.post("/securite/cles")
@login_required
@limiter.limit("30 per hour")
def add():
    """Keep the credential the browser created, once verified; JSON ``{"credential":
    ..., "name": ...}``."""
    user = current_user._get_current_object()
    challenge = session.pop(ADDING, None)
    credential = _credential()
    if not user.two_factor:
        return _refused(_("Set up an authenticator app first: it stays the way back in."))
    if challenge is None or credential is None:
        return _refused(_("The key's answer is missing or expired: try again."))
    if len(keys_of(user)) >= MAX_KEYS:
        return _refused(_("You have %(count)s keys already: remove one first.", count=MAX_KEYS))
    rp_id, origin = _relying_party()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except REFUSED as error:
        return _refused(_("This key could not be added: %(reason)s", reason=str(error)))
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(SecurityKey.id).where(SecurityKey.credential_id == credential_id)):
        return _refused(_("This key is added already."))
    name = " ".join(str((request.get_json() or {}).get("name") or "").split())[:100]
    db.session.add(
        SecurityKey(
            user_id=user.id,
            credential_id=credential_id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            name=name or _("Security key"),
        )
    )
    activity.record_for_user(user, "user.key_added", name or "")
    db.session.commit()
    flash(_("The security key is added: you may log in with it."), "success")
    return jsonify(next=_url_for("twofactor.setup"))


@bp.post("/securite/cles/<int:key_id>/supprimer")
@login_required
def remove(key_id: int):
    """Remove one of the user's keys."""
    key = db.session.get(SecurityKey, key_id)
    if key is None or key.user_id != current_user.id:
        abort(404)
    db.session.delete(key)
    activity.record_for_user(current_user, "user.key_removed", key.name)
    db.session.commit()
    flash(_("The security key %(name)s is removed.", name=key.name), "info")
    return redirect(_url_for("twofactor.setup"), 303)


# --- logging in with one ------------------------------------------------------------


@bp.post("/login/cle/options")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"])
def login_options():
    """The options the browser asks the user's keys with (after the password)."""
    user, _pending = _pending_user()
    keys = keys_of(user) if user is not None else []
    if not keys:
        return _refused(_("Log in again: the time to give the code ran out."), 401)
    rp_id, _origin = _relying_party()
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id)) for k in keys
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    session[LOGGING_IN] = bytes_to_base64url(options.challenge)
    return current_app.response_class(options_to_json(options), mimetype="application/json")


@bp.post("/login/cle")
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_code_key,
    deduct_when=lambda response: response.status_code == 401,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    deduct_when=lambda response: response.status_code == 401,
)
def login():
    """The key's signature instead of the app's code: logged in, or refused."""
    user, pending = _pending_user()
    challenge = session.pop(LOGGING_IN, None)
    credential = _credential()
    if user is None:
        return _refused(_("Log in again: the time to give the code ran out."), 401)
    if challenge is None or credential is None:
        return _refused(_("The key's answer is missing or expired: try again."), 401)
    key = db.session.scalar(
        select(SecurityKey).where(
            SecurityKey.user_id == user.id, SecurityKey.credential_id == str(credential.get("id"))
        )
    )
    if key is None:
        activity.record_for_user(user, "login.key_failed")
        db.session.commit()
        return _refused(_("This key is not one of yours."), 401)
    rp_id, origin = _relying_party()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=base64url_to_bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
        )
    except REFUSED as error:
        activity.record_for_user(user, "login.key_failed", key.name)
        db.session.commit()
        return _refused(_("The key's answer was refused: %(reason)s", reason=str(error)), 401)
    key.sign_count, key.last_used_at = verified.new_sign_count, utcnow()
    done = finish_login(user, pending["remember"], pending["next"])
    return jsonify(next=done.location)
