"""The forms of the app (Flask-WTF: CSRF-protected, validated on the server)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core.plugin_api import LinesField
from core.plugin_api import lazy_gettext as _l

MAX_BODY = 5000


class TicketForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    category = SelectField(_l("Category"), choices=[], validators=[Optional()])
    body = TextAreaField(_l("Your message"), validators=[DataRequired(), Length(max=MAX_BODY)])

    def offer(self, categories: list[str]) -> None:
        """Offer the organisation's categories (the field disappears without any)."""
        self.category.choices = [(c, c) for c in categories]
        if not categories:
            del self.category


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply"), validators=[DataRequired(), Length(max=MAX_BODY)])


class SettingsForm(FlaskForm):
    """The organisation's settings, named after ``App.settings``: the core shows this
    form to the organisation's admins and saves what they choose."""

    categories = LinesField(
        _l("Categories offered"),
        description=_l("One per line; none: requests have no category."),
        validators=[Length(max=2000)],
    )
    members_see_all = BooleanField(_l("Members see every request of the organisation"))
