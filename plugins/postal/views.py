"""The pages of postal mail: the letters and their CSV export, a letter, the form and
its preview, sending (the wallet debited and the letter queued in one transaction),
cancelling, the terms kept for invoices, the widget.

Sending is two steps: the form (document, address, options) leads to a preview (the
letter as it will be printed, its pages, its price and the balance), whose
confirmation debits the wallet and queues the letter in one transaction. The preview
carries a signed draft (the document's digest, for this organisation), so nobody can
post a document that is not theirs."""

from __future__ import annotations

import uuid
from io import BytesIO

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer

from core.plugin_api import (
    Account,
    LetterOptions,
    StatusListing,
    app_usable,
    csv_response,
    csv_text,
    current_membership,
    current_scope,
    db,
    document_file,
    get_scoped_or_404,
    ledger,
    limiter,
    page_rows,
    postal_provider,
    read_listing,
    read_stored,
    record_activity,
    render,
    requested_dialect,
    scoped,
    store_document,
    stream_rows,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice
from plugins.wallet import public as wallet

from . import sending
from .address import COUNTRIES, check_address, country_name
from .models import Letter, PostalSettings, sent_by_customers
from .printing import DocumentError, check_document, joined, print_ready, printed_pages

bp = Blueprint("postal", __name__, template_folder="templates")
OPTIONS = ("colour", "duplex", "registered", "priority")
STATUS_LABELS = {
    "queued": _l("Queued"),
    "submitted": _l("Handed to the printer"),
    "accepted": _l("Accepted"),
    "printed": _l("Printed"),
    "posted": _l("Posted"),
    "delivered": _l("Delivered"),
    "returned": _l("Returned to sender"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
OPTION_LABELS = {
    "colour": _l("Colour"),
    "duplex": _l("Double-sided"),
    "registered": _l("Registered with acknowledgement of receipt"),
    "priority": _l("Priority"),
}
CSV_COLUMNS = (
    ("date", _l("Date")),
    ("document", _l("Document")),
    ("recipient", _l("Recipient")),
    ("country", _l("Country")),
    ("pages", _l("Pages")),
    ("price", _l("Price")),
    ("status", _l("Status")),
    ("reference", _l("Reference")),
)

# --- drafts --------------------------------------------------------------------------


def _drafts() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="postal-draft")


def _read_draft(token: str) -> dict:
    """The draft of this organisation's preview; 404 for anything else."""
    try:
        draft = _drafts().loads(token or "")
    except BadSignature:
        abort(404)
    if draft.get("org") != current_scope().organisation_id:
        abort(404)
    return draft


def _letter_form(form) -> tuple[list[str], str, LetterOptions, list[str]]:
    """The address lines, country and options of a submitted form, and its errors."""
    country = form.get("country", "FR")
    lines, errors = check_address(form.get("address", ""), country)
    options = LetterOptions(**{name: form.get(name) == "y" for name in OPTIONS})
    provider = postal_provider()
    refused = [
        str(OPTION_LABELS[n]) for n in OPTIONS if getattr(options, n) and n not in provider.offers
    ]
    if refused:
        errors.append(_("This provider does not offer: %(options)s.", options=", ".join(refused)))
    return lines, country, options, errors


def _context(**values) -> dict:
    return {
        "countries": [(c, country_name(c)) for c in COUNTRIES],
        "option_labels": OPTION_LABELS,
        "top_up": wallet.top_up_action(),
        **values,
    }


@bp.get("/")
def index():
    """The organisation's letters, newest first, with a filter by status."""
    listing, query = _letters(request.args)
    order = Letter.id.desc() if listing.descending else Letter.id.asc()
    letters = page_rows(listing, query, (order,))
    return render(
        "postal/index.html",
        "results",
        listing=listing,
        letters=letters,
        labels=STATUS_LABELS,
        is_admin=current_membership().is_admin,
    )


def _letters(args) -> tuple[StatusListing, object]:
    listing = StatusListing()
    read_listing(listing, args, {"date": Letter.id}, "date", descending=True)
    query = sent_by_customers()
    if listing.read_status(args, STATUS_LABELS):
        query = query.where(Letter.status == listing.status)
    return listing, query


@bp.get("/export.csv")
def export_csv():
    """The filtered letters as CSV (French spreadsheet or standard)."""
    dialect = requested_dialect()
    _listing, query = _letters(request.args)
    columns = (
        Letter.created_at,
        Letter.title,
        Letter.address,
        Letter.country,
        Letter.pages,
        Letter.price,
        Letter.status,
        Letter.reference,
    )
    rows = stream_rows(query.with_only_columns(*columns).order_by(Letter.id.desc()))
    statuses = {status: dialect.label(status, STATUS_LABELS) for status in STATUS_LABELS}
    values = (
        [
            dialect.day(at.date()),
            title,
            " / ".join(address),
            country,
            pages,
            dialect.amount(price),
            statuses.get(status, status),
            reference or "",
        ]
        for at, title, address, country, pages, price, status, reference in rows
    )
    header = dialect.header(CSV_COLUMNS)
    return csv_response(csv_text(header, values, dialect), "courriers")


@bp.post("/<int:letter_id>/annuler")
def cancel(letter_id: int):
    """Stop a letter the print shop has not taken yet; it is refunded."""
    letter = _letter_or_404(letter_id)
    if sending.cancel(letter):
        flash(_("The letter was cancelled and refunded to your wallet."), "success")
    else:
        flash(_("The letter can no longer be cancelled: it is being printed or posted."), "error")
    return redirect(url_for("postal.letter", letter_id=letter.id), 303)


def _terms(organisation_id: int) -> PostalSettings | None:
    """The organisation's terms and conditions, when it keeps some."""
    found = db.session.get(PostalSettings, organisation_id)
    return found if found is not None and found.terms_sha256 else None


@bp.route("/reglages", methods=["GET", "POST"])
def settings():
    """Organisation admins keep the terms and conditions appended on demand to the
    invoices they send by post."""
    membership = current_membership()
    if not membership.is_admin:
        abort(404)
    found = db.session.get(PostalSettings, membership.organisation_id)
    errors = []
    if request.method == "POST":
        upload = request.files.get("terms")
        if request.form.get("remove") == "y" and found is not None:
            found.terms_sha256, found.terms_pages = None, 0
        elif upload is None or not upload.filename:
            errors.append(_("Choose the PDF to send."))
        else:
            data = upload.read(current_app.config["POSTAL_MAX_BYTES"] + 1)
            try:
                pages = check_document(data)
            except DocumentError as error:
                errors.append(str(error))
            else:
                if found is None:
                    found = PostalSettings(organisation_id=membership.organisation_id)
                    db.session.add(found)
                found.terms_sha256, found.terms_pages = store_document(data), pages
        if not errors:
            db.session.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for("postal.settings"), 303)
    return render(
        "postal/settings.html", terms=_terms(membership.organisation_id), errors=errors
    ), (422 if errors else 200)


@bp.route("/nouveau", methods=["GET", "POST"])
@limiter.limit("60/hour", methods=["POST"])
def new():
    """The letter's form: an uploaded PDF, or the invoice given by ``invoice_id``
    (its PDF, its recipient's address); POST checks it and shows the preview."""
    invoice = None
    invoice_id = request.values.get("invoice_id", type=int)
    if invoice_id is not None:
        if not app_usable("invoices"):  # an invoice is shown only where its app is on
            abort(404)
        invoice = get_scoped_or_404(Invoice, invoice_id)
    if request.method == "GET":
        address = ""
        if invoice is not None:
            address = "\n".join(
                [
                    invoice.recipient_name or invoice.subscriber,
                    *invoice.recipient_address.splitlines(),
                ]
            )
        return render(
            "postal/new.html",
            **_context(
                invoice=invoice,
                address=address,
                country="FR",
                errors=[],
                terms=_terms(current_scope().organisation_id),
            ),
        )
    lines, country, options, errors = _letter_form(request.form)
    data, title = None, ""
    if invoice is not None:
        data = document_file(invoice, "pdf").read()
        title = _("Invoice %(number)s", number=invoice.number)
        terms = _terms(current_scope().organisation_id)
        if terms is not None and request.form.get("terms") == "y":
            data = joined(data, read_stored(terms.terms_sha256))
            title = _("Invoice %(number)s and terms", number=invoice.number)
    else:
        upload = request.files.get("document")
        if upload is None or not upload.filename:
            errors.append(_("Choose the PDF to send."))
        else:
            data, title = (
                upload.read(current_app.config["POSTAL_MAX_BYTES"] + 1),
                upload.filename[:200],
            )
    if data is not None:
        try:
            check_document(data)
        except DocumentError as error:
            errors.append(str(error))
    if errors:
        return render(
            "postal/new.html",
            **_context(
                invoice=invoice,
                address=request.form.get("address", ""),
                country=country,
                errors=errors,
                options=options,
                terms=_terms(current_scope().organisation_id),
            ),
        ), 422
    pages, cover = printed_pages(data)
    draft = {
        "org": current_scope().organisation_id,
        "sha": store_document(data),
        "invoice": invoice.id if invoice else None,
        "title": title,
        "key": uuid.uuid4().hex,
    }
    price = postal_provider().price(pages, options)
    balance = ledger.balance(current_scope().organisation_id)
    return render(
        "postal/preview.html",
        **_context(
            draft=_drafts().dumps(draft),
            title=title,
            address=lines,
            country=country,
            options=options,
            pages=pages,
            cover=cover,
            price=price,
            balance=balance,
        ),
    )


@bp.get("/apercu.pdf")
def preview_pdf():
    """The letter as it will be printed (the address in the window)."""
    draft = _read_draft(request.args.get("draft", ""))
    lines, _country, _options, _errors = _letter_form(request.args)
    source = read_stored(draft["sha"])
    pdf, _pages, _cover = print_ready(source, lines or ["—"])
    return send_file(BytesIO(pdf), mimetype="application/pdf", download_name="apercu.pdf")


@bp.post("/envoyer")
@limiter.limit("60/hour")
def send():
    """Confirm the preview: the price is computed again here, the wallet debited and
    the letter queued in one transaction (or nothing, when the balance is short)."""
    draft = _read_draft(request.form.get("draft", ""))
    lines, country, options, errors = _letter_form(request.form)
    if errors:
        abort(422, " ".join(errors))
    scope = current_scope()
    source = read_stored(draft["sha"])
    pages, cover = printed_pages(source)
    provider = postal_provider()
    invoice = get_scoped_or_404(Invoice, draft["invoice"]) if draft["invoice"] else None
    account_id = (
        invoice.account_id
        if invoice
        else db.session.scalar(
            scoped(Account, scope).with_only_columns(Account.id).order_by(Account.client_code)
        )
    )
    letter = Letter(
        organisation_id=scope.organisation_id,
        account_id=account_id,
        key=draft["key"],
        provider=provider.key,
        document_sha256=draft["sha"],
        title=draft["title"],
        pages=pages,
        address=lines,
        country=country,
        price=provider.price(pages, options),
        invoice_id=draft["invoice"],
        user_id=current_user.id,
        **{name: getattr(options, name) for name in OPTIONS},
    )
    try:
        letter = sending.send(letter)
    except ledger.InsufficientFunds as short:
        db.session.rollback()
        return render(
            "postal/preview.html",
            **_context(
                draft=request.form["draft"],
                title=draft["title"],
                address=lines,
                country=country,
                options=options,
                pages=pages,
                cover=cover,
                price=letter.price,
                balance=short.balance,
            ),
        ), 422
    record_activity("letter.sent", f"L{letter.id:08d} · {lines[0]}")
    return redirect(url_for("postal.letter", letter_id=letter.id), 303)


def _letter_or_404(letter_id: int) -> Letter:
    found = db.session.scalar(sent_by_customers().where(Letter.id == letter_id))
    if found is None:
        abort(404)
    return found


@bp.get("/<int:letter_id>")
def letter(letter_id: int):
    """A letter, its price and options, and every state it went through."""
    found = _letter_or_404(letter_id)
    return render(
        "postal/letter.html", letter=found, labels=STATUS_LABELS, option_labels=OPTION_LABELS
    )


@bp.get("/widget")
def widget():
    """Dashboard widget: the letters not yet delivered."""
    on_the_way = db.session.scalars(
        sent_by_customers()
        .where(Letter.status.in_(("queued", "submitted", "accepted", "printed", "posted")))
        .order_by(Letter.id.desc())
        .limit(5)
    ).all()
    return render_template("postal/widget.html", letters=on_the_way, labels=STATUS_LABELS)
