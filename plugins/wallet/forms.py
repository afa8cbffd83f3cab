"""The top-up form of the wallet."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, StringField
from wtforms.validators import InputRequired, NumberRange

from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from core.plugin_api import money, parse_amount


class TopUpForm(FlaskForm):
    """The amount is a preset or a custom one within the operator's limits."""

    preset = RadioField(_l("Amount"), default="")
    other = StringField(_l("Other amount (€)"))
    method = RadioField(_l("Payment method"), default="", validate_choice=True)

    def __init__(self, presets, methods: list[tuple[str, object]], **kwargs):
        super().__init__(**kwargs)
        self.preset.choices = [(str(c), money(c)) for c in presets] + [("", _l("Other amount"))]
        self.method.choices = methods

    def amount(self) -> int | None:
        """The amount asked in cents, or ``None`` with the error set on the form."""
        config = current_app.config
        low, high = config["WALLET_TOPUP_MIN"], config["WALLET_TOPUP_MAX"]
        if self.preset.data:
            return int(self.preset.data)
        try:
            cents = parse_amount(self.other.data or "")
        except ValueError:
            self.other.errors.append(_("Enter an amount such as 50 or 75,50."))
            return None
        if not low <= cents <= high:
            self.other.errors.append(
                _(
                    "The amount must be between %(low)s and %(high)s.",
                    low=money(low),
                    high=money(high),
                )
            )
            return None
        return cents


class WalletSettingsForm(FlaskForm):
    """The organisation's settings of the wallet, for its admins (``App.settings``)."""

    low_balance = IntegerField(
        _l("Tell the admins when the balance falls below (€)"),
        validators=[InputRequired(), NumberRange(min=0, max=100_000)],
        description=_l("One e-mail each time a payment takes it below; 0: never."),
    )
