"""The pages of "Mon compte": the profile, the password, the widget."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from core.plugin_api import (
    check_password,
    current_membership,
    db,
    form_status,
    record_activity,
    set_password,
)
from core.plugin_api import gettext as _

from .forms import PasswordForm, ProfileForm

bp = Blueprint("account", __name__, template_folder="templates")


@bp.route("/", methods=["GET", "POST"])
def profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        current_user.name = form.name.data or ""
        current_user.locale = form.locale.data
        db.session.commit()
        flash(_("Your profile is saved."), "info")
        return redirect(url_for("account.profile"))
    return render_template("account/profile.html", form=form), form_status(form)


@bp.get("/widget")
def widget():
    """Dashboard widget: who is logged in, in which organisation, and the account links."""
    return render_template("account/widget.html", membership=current_membership())


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change the password; every other session and remember cookie stops working."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not check_password(current_user, form.current.data):
            form.current.errors.append(_("This is not your current password."))
        else:
            user = current_user._get_current_object()
            set_password(user, form.password.data, keep=user.session_token)
            record_activity("user.password", everywhere=True)  # and commits
            flash(_("Your password is changed. Your other sessions are closed."), "info")
            return redirect(url_for("account.profile"))
    return render_template("account/password.html", form=form), form_status(form)
