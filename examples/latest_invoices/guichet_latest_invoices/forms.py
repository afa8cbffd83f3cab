"""The organisation's settings (named after ``App.settings``: the core's settings page
shows this form to the organisation's admins and saves what they choose)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from core.plugin_api import lazy_gettext as _l

MAX_COUNT = 20


class SettingsForm(FlaskForm):
    count = IntegerField(
        _l("Invoices shown"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_COUNT)],
        description=_l("From 1 to 20."),
    )
    only_to_pay = BooleanField(_l("Only the invoices still to pay"))
