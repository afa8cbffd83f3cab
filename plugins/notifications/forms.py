"""The forms of the notifications app."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from core.plugin_api import lazy_gettext as _l

ADDRESS_RULES = [
    DataRequired(),
    Length(max=254),
    # syntax and domain form, without a DNS look-up (the portal may run offline)
    Email(check_deliverability=False, message=_l("This is not a valid e-mail address.")),
]


class SubscriptionForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=ADDRESS_RULES)
    attachments = BooleanField(_l("Attachments (the PDF)"), default=True)
    attachment_format = SelectField(
        _l("Attached as"),
        default="pdf",
        choices=[
            SelectChoice("pdf", _l("PDF")),
            SelectChoice("facturx", _l("Factur-X (the PDF with the invoice's data)")),
            SelectChoice("both", _l("PDF and Factur-X")),
        ],
    )
    kinds = SelectField(
        _l("Documents"),
        choices=[
            SelectChoice("all", _l("Invoices and credit notes")),
            SelectChoice("invoice", _l("Invoices only")),
            SelectChoice("credit_note", _l("Credit notes only")),
        ],
    )
    frequency = SelectField(
        _l("How often"),
        choices=[
            SelectChoice("each", _l("One e-mail per invoice")),
            SelectChoice("daily", _l("A daily digest")),
        ],
    )
    accounts = SelectMultipleField(_l("Accounts (none chosen: all)"), coerce=int)
    for_organisation = BooleanField(_l("For the whole organisation"), default=True)


class SettingsForm(FlaskForm):
    users_may_subscribe = BooleanField(_l("Users may register their own address"))


class SendForm(FlaskForm):
    email = EmailField(_l("Send to"), validators=ADDRESS_RULES)
