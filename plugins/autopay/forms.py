"""Signing a mandate, and choosing the mandate an account is paid on."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from core.plugin_api import lazy_gettext as _l


class MandateForm(FlaskForm):
    """The SEPA mandate's fields; the IBAN and BIC are checked by :mod:`.mandates`."""

    signatory = StringField(_l("Account holder"), validators=[InputRequired(), Length(max=200)])
    iban = StringField(_l("IBAN"), validators=[InputRequired(), Length(max=42)])
    bic = StringField(_l("BIC (if your bank asks for it)"), validators=[Length(max=11)])
    consent = BooleanField(
        _l("I authorise these debits under the terms above"),
        validators=[DataRequired(_l("Tick the box to sign the mandate."))],
    )


class AccountForm(FlaskForm):
    """Pay an account's invoices automatically on a mandate, or not (``""``)."""

    mandate = SelectField(_l("Automatic payment"), validate_choice=True)

    def __init__(self, mandates, **kwargs):
        super().__init__(**kwargs)
        self.mandate.choices = [("", _l("Off")), *((str(m.id), m.account) for m in mandates)]


class AutopaySettingsForm(FlaskForm):
    """The organisation's settings of automatic payment, for its admins."""

    topup = IntegerField(
        _l("Top the wallet up automatically by (€)"),
        validators=[InputRequired(), NumberRange(min=0, max=10_000)],
        description=_l(
            "When a payment takes the wallet below its alert threshold, this amount is "
            "debited from your latest valid mandate; 0: never."
        ),
    )
