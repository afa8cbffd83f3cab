"""The buyer's word on an invoice: refused, or disputed, with the reason."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from core.plugin_api import lazy_gettext as _l


class BuyerStatusForm(FlaskForm):
    code = SelectField(
        _l("Your answer"),
        choices=[
            SelectChoice("207", _l("Disputed: we contest part of it")),
            SelectChoice("210", _l("Refused: we do not accept it")),
        ],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Say why.")), Length(max=1000)],
    )
