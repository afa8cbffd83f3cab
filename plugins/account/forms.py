"""The forms of "Mon compte"."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from core.plugin_api import NewPasswordForm, language_choices
from core.plugin_api import lazy_gettext as _l


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    locale = SelectField(_l("Language"), choices=language_choices())


class PasswordForm(NewPasswordForm):
    """The new password (typed twice, the core's rules), and the current one."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
