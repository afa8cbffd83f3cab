"""Built-in app "Mon compte": the user's profile, password and language."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core.plugin_api import (
    MIN_PASSWORD_LENGTH as MIN_LENGTH,
)
from core.plugin_api import (
    App,
    MenuItem,
    PluginBlueprint,
    Widget,
    check_password,
    current_membership,
    db,
    hookimpl,
    language_choices,
    set_password,
)

GUICHET_API = ">=1.0,<2"  # the plugin API range this plugin supports

APP_KEY = "account"
SECTION = _l("My account")
bp = Blueprint("account", __name__, template_folder="templates")


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    locale = SelectField(_l("Language"), choices=language_choices())


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_LENGTH)]
    )
    confirm = PasswordField(
        _l("Confirm the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


@hookimpl
def guichet_apps():
    return [
        App(
            key=APP_KEY,
            name=_l("My account"),
            endpoint="account.profile",
            description=_l("Your profile, password and language."),
            icon="user",
            section=SECTION,
        )
    ]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(bp, app_key=APP_KEY, url_prefix="/mon-compte")]


@hookimpl
def guichet_widgets():
    return [Widget("account.summary", APP_KEY, _l("My account"), "account.widget")]


@hookimpl
def guichet_menu_items(user, organisation):
    return [
        MenuItem(APP_KEY, SECTION, _l("My profile"), "account.profile", order=900),
        MenuItem(APP_KEY, SECTION, _l("Change my password"), "account.password", order=901),
    ]


@bp.route("/", methods=["GET", "POST"])
def profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        current_user.name = form.name.data or ""
        current_user.locale = form.locale.data
        db.session.commit()
        flash(_("Your profile is saved."), "info")
        return redirect(url_for("account.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("account/profile.html", form=form), status


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
            db.session.commit()
            flash(_("Your password is changed. Your other sessions are closed."), "info")
            return redirect(url_for("account.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("account/password.html", form=form), status
