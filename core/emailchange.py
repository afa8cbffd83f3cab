"""A user changes their own e-mail address: with their password, they give the new
address; a link valid for a day goes to it (the change happens only once someone
who reads that mailbox opens it), and a notice goes to the current address. The link
is bound to the address it changes from, so it works once."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from core import activity, directory, jobs
from core.extensions import db, limiter
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mailing import mail_configured, send_email, user_language
from core.models import User
from core.passwords import check_password
from core.rendering import external_url, form_status

bp = Blueprint("email_change", __name__, template_folder="templates")
MAX_AGE = 24 * 3600  # seconds the confirmation link works


class EmailForm(FlaskForm):
    email = EmailField(_l("New e-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Current password"), validators=[DataRequired()])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="email-change")


@bp.route("/mon-adresse", methods=["GET", "POST"])
@login_required
@limiter.limit("5 per hour", methods=["POST"])
def request_change():
    """Ask for the change: the password, and a new address no one else uses."""
    form = EmailForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        new = directory.normalise_email(form.email.data)
        taken = db.session.scalar(db.select(User.id).where(User.email == new))
        if not check_password(user, form.password.data):
            form.password.errors.append(_("The password is wrong."))
        elif new == user.email:
            form.email.errors.append(_("This is already your address."))
        elif taken is not None:
            form.email.errors.append(_("Another account uses this address."))
        elif not mail_configured():
            form.form_errors.append(
                _("This portal sends no e-mail: ask your provider to change your address.")
            )
        else:
            db.session.commit()  # a rehashed password
            send_links(user.id, new)
            flash(_("A link to confirm the change was sent to %(email)s.", email=new), "info")
            return redirect(url_for("email_change.request_change"), 303)
    return render_template("auth/email.html", form=form), form_status(form)


@jobs.task()
def send_links(user_id: int, new: str) -> bool:
    """The confirmation link to the new address, a notice to the current one."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return False
    token = _serializer().dumps({"id": user.id, "from": user.email, "to": new})
    with user_language(user):
        confirm = render_template(
            "auth/email_confirm.txt",
            user=user,
            new=new,
            link=external_url("email_change.confirm", token=token),
        )
        notice = render_template("auth/email_notice.txt", user=user, new=new)
        send_email([new], _("Confirm your new e-mail address"), confirm)
        send_email([user.email], _("A change of your e-mail address was asked"), notice)
    return True


@bp.get("/mon-adresse/confirmer/<token>")
def confirm(token: str):
    """The link of the e-mail: the address changes, once, if still free."""
    try:
        data = _serializer().loads(token, max_age=MAX_AGE)
    except (SignatureExpired, BadSignature):
        data = None
    user = db.session.get(User, data.get("id")) if isinstance(data, dict) else None
    if user is None or not user.active or user.email != data.get("from"):
        flash(_("This link is invalid, expired or already used."), "error")
        return redirect(url_for("auth.login"))
    try:
        directory.update_user(user, email=data["to"])
    except directory.DirectoryError as error:
        flash(str(error), "error")
        return redirect(url_for("auth.login"))
    activity.record_for_user(user, "user.email", f"{data['from']} → {user.email}")
    db.session.commit()
    flash(_("Your e-mail address is now %(email)s.", email=user.email), "success")
    return redirect(url_for("auth.login"))
