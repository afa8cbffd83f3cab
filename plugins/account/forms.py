"""The forms of "Mon compte"."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core.plugin_api import MIN_PASSWORD_LENGTH, language_choices


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    locale = SelectField(_l("Language"), choices=language_choices())


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)]
    )
    confirm = PasswordField(
        _l("Confirm the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
