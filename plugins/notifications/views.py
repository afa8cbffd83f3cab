"""The pages of the notifications app: the addresses, the delivery log, and "send by
e-mail" for invoices selected in the list."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from core.plugin_api import (
    Account,
    StatusListing,
    app_usable,
    current_membership,
    current_scope,
    db,
    form_status,
    limiter,
    mail_configured,
    page_rows,
    read_listing,
    record_activity,
    render,
    scoped,
    selected_ids,
    when_context_ends,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice

from . import sending
from .forms import SendForm, SettingsForm, SubscriptionForm
from .models import STATUSES, Delivery, Settings, Subscription

bp = Blueprint("notifications", __name__, template_folder="templates")
STATUS_LABELS = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "retrying": _l("Will be retried"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "uncertain": _l("Uncertain"),
}


# new invoices noted during a request (or a command's app context) go to the queue
# when it ends: one task per thousand invoices, not one per invoice
when_context_ends(bp, sending.flush_created)


def _settings(organisation_id: int) -> Settings:
    return db.session.get(Settings, organisation_id) or Settings(
        organisation_id=organisation_id, users_may_subscribe=False
    )


def _may_subscribe() -> bool:
    membership = current_membership()
    return membership.is_admin or _settings(membership.organisation_id).users_may_subscribe


def _visible_subscriptions():
    """An admin sees every address of the organisation, a user its own."""
    query = scoped(Subscription)
    if not current_membership().is_admin:
        query = query.where(Subscription.user_id == current_user.id)
    return query


def _account_choices() -> list[tuple[int, str]]:
    accounts = db.session.scalars(scoped(Account).order_by(Account.client_code))
    return [(a.id, f"{a.client_code} {a.name}".strip()) for a in accounts]


def _fill(subscription: Subscription, form: SubscriptionForm) -> None:
    subscription.email = form.email.data.strip().lower()
    subscription.attachments = form.attachments.data
    subscription.attachment_format = form.attachment_format.data
    subscription.kinds = form.kinds.data
    subscription.frequency = form.frequency.data
    subscription.account_ids = sorted(form.accounts.data or [])
    subscription.failures, subscription.flagged = 0, False  # edited: try it again
    if current_membership().is_admin:
        subscription.user_id = None if form.for_organisation.data else current_user.id
    else:
        subscription.user_id = current_user.id


def _subscription_form(
    subscription: Subscription | None = None,
    accounts: list[tuple[int, str]] | None = None,
    bound: bool = True,
) -> SubscriptionForm:
    """The form of a new address, or of ``subscription``: filled from the request when
    ``bound``, else from the subscription. ``accounts`` are the choices (read once)."""
    prefix = f"s{subscription.id}" if subscription else ""
    if bound:
        form = SubscriptionForm(prefix=prefix)
    else:
        form = SubscriptionForm(formdata=None, obj=subscription, prefix=prefix)
        form.accounts.data = subscription.account_ids
        form.for_organisation.data = subscription.user_id is None
    choices = _account_choices() if accounts is None else accounts
    form.accounts.choices = [SelectChoice(i, label) for i, label in choices]
    if not app_usable(sending.EINVOICES_APP):  # no Factur-X where its app is off
        form.attachment_format.choices = form.attachment_format.choices[:1]
    return form


def _page(form=None, status: int = 200, edited: tuple[int, SubscriptionForm] | None = None):
    """The page; ``form`` (the new address) or ``edited`` (an address's) with its errors."""
    membership = current_membership()
    subscriptions = db.session.scalars(
        _visible_subscriptions()
        .order_by(Subscription.email, Subscription.id)
        .options(selectinload(Subscription.user))
    ).all()
    accounts = _account_choices()
    forms = {s.id: _subscription_form(s, accounts, bound=False) for s in subscriptions}
    if edited is not None:
        forms[edited[0]] = edited[1]
    return render(
        "notifications/index.html",
        form=form or _subscription_form(accounts=accounts),
        forms=forms,
        subscriptions=subscriptions,
        accounts=dict(accounts),
        settings_form=SettingsForm(obj=_settings(membership.organisation_id)),
        is_admin=membership.is_admin,
        may_subscribe=_may_subscribe(),
        mail_configured=mail_configured(),
    ), status


@bp.get("/")
def index():
    return _page()


@bp.post("/")
def add():
    if not _may_subscribe():
        abort(403)
    form = _subscription_form()
    if not form.validate_on_submit():
        return _page(form, 422)
    subscription = Subscription(organisation_id=current_membership().organisation_id)
    _fill(subscription, form)
    db.session.add(subscription)
    record_activity("notification.added", subscription.email)  # and commits
    flash(_("%(email)s will receive your invoices.", email=subscription.email), "success")
    return redirect(url_for("notifications.index"))


@bp.post("/<int:subscription_id>")
def update(subscription_id: int):
    subscription = _owned(subscription_id)
    form = _subscription_form(subscription)
    if not form.validate_on_submit():
        return _page(status=422, edited=(subscription.id, form))
    _fill(subscription, form)
    record_activity("notification.changed", subscription.email)  # and commits
    flash(_("The address %(email)s was saved.", email=subscription.email), "success")
    return redirect(url_for("notifications.index"))


@bp.post("/<int:subscription_id>/delete")
def delete(subscription_id: int):
    subscription = _owned(subscription_id)
    db.session.delete(subscription)
    record_activity("notification.removed", subscription.email)  # and commits
    flash(_("%(email)s will no longer receive your invoices.", email=subscription.email), "info")
    return redirect(url_for("notifications.index"))


def _owned(subscription_id: int) -> Subscription:
    """A subscription this user may change (404 otherwise)."""
    subscription = db.session.scalar(
        _visible_subscriptions().where(Subscription.id == subscription_id)
    )
    if subscription is None:
        abort(404)
    return subscription


@bp.post("/settings")
def settings():
    membership = current_membership()
    if not membership.is_admin:
        abort(403)
    form = SettingsForm()
    if not form.validate_on_submit():
        return _page(status=422)
    current = db.session.get(Settings, membership.organisation_id)
    if current is None:
        current = Settings(organisation_id=membership.organisation_id)
        db.session.add(current)
    current.users_may_subscribe = form.users_may_subscribe.data
    db.session.commit()
    flash(_("Settings saved."), "success")
    return redirect(url_for("notifications.index"))


@bp.get("/journal")
def log():
    """The delivery log: every e-mail, when, to whom, which invoices, how it went."""
    filters = StatusListing()
    read_listing(filters, request.args, {"date": Delivery.created_at}, "date", descending=True)
    filters.read_status(request.args, STATUSES)
    query = scoped(Delivery)
    if not current_membership().is_admin:
        mine = select(Subscription.id).where(Subscription.user_id == current_user.id)
        query = query.where(Delivery.subscription_id.in_(mine))
    if filters.status:
        query = query.where(Delivery.status == filters.status)
    order = Delivery.created_at.desc() if filters.descending else Delivery.created_at.asc()
    deliveries = page_rows(filters, query, (order, Delivery.id.desc()))
    return render(
        "notifications/log.html",
        block="results",
        filters=filters,
        deliveries=deliveries,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        translated_errors=sending.TRANSLATED_ERRORS,
        mail_configured=mail_configured(),
    )


@bp.route("/envoyer", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])  # e-mails to any address: bounded
def send():
    """Send invoices selected in the list (``id`` arguments) to a typed address."""
    ids = selected_ids(request.values)[:100]
    invoices = db.session.scalars(
        scoped(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.number)
    ).all()
    form = SendForm()
    if request.method == "POST" and invoices and form.validate_on_submit():
        scope = current_scope()
        sending.send_invoices(
            scope.organisation_id,
            [i.id for i in invoices],
            form.email.data.strip().lower(),
            str(get_locale()),
        )
        flash(
            _(
                "%(count)d invoice(s) will be sent to %(email)s.",
                count=len(invoices),
                email=form.email.data,
            ),
            "success",
        )
        return redirect(url_for("notifications.log"))
    if not invoices:
        form.form_errors.append(_("Select at least one invoice in the list."))
    return render(
        "notifications/send.html",
        form=form,
        invoices=invoices,
        mail_configured=mail_configured(),
    ), form_status(form)
