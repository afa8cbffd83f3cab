"""An invoice as EN 16931 sees it: the business terms (``BT-1`` number, ``BG-4``
seller...) that the ``factur-x`` library writes as CII (Factur-X) or UBL. What the
invoice lacks for a valid document is named, in the customer's words, by
:class:`~core.plugin_api.FormatRefused`; nothing is guessed."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from stdnum.iban import is_valid as iban_is_valid

from core.plugin_api import FormatRefused, Organisation, db, money
from core.plugin_api import gettext as _

INVOICE, CREDIT_NOTE = "380", "381"  # UNTDID 1001 document type codes
SIREN_SCHEME = "0002"  # ISO 6523: SIRENE, the French register of companies
UNIT = "C62"  # UN/ECE rec. 20: "one", a unit with no dimension (a letter, a parcel)
SEPA_CREDIT_TRANSFER = "58"  # UNTDID 4461
TRANSFERS = ("30", "58")  # the means that need the payee's account (BR-61)
ROUTING_SCHEME = "0225"  # ISO 6523: an address of the French e-invoicing directory
ADDRESS_CITY = re.compile(r"^(?P<postcode>\d{5})\s+(?P<city>.+)$")


def decimal_text(cents: int) -> str:
    """Cents as the decimal text EN 16931 writes: ``512982`` → ``"5129.82"``."""
    return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))


def address(text: str) -> dict:
    """A postal address as typed on an invoice (lines, the last "75015 PARIS") split
    into EN 16931's address lines, postcode and city; France unless said otherwise."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    found = ADDRESS_CITY.match(lines[-1]) if lines else None
    parts: dict = {"country_code": "FR"}
    if found:
        parts.update(postcode=found["postcode"], city=found["city"])
        lines = lines[:-1]
    for key, line in zip(("addr_l1", "addr_l2", "addr_l3"), lines, strict=False):
        parts[key] = line
    return parts


def siren(siret: str | None) -> str:
    """The SIREN (9 digits) a SIRET (14) or a SIREN starts with; "" when neither."""
    digits = (siret or "").replace(" ", "")
    return digits[:9] if digits.isdigit() and len(digits) in (9, 14) else ""


#: Where no reason is given for a line without VAT, the VATEX code of its category
#: (BT-121); exempt lines (E) take the installation's reason instead.
VATEX = {"AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "G": "VATEX-EU-G", "O": "VATEX-EU-O"}
#: The categories whose lines must name the buyer's VAT number (BR-AE-02, BR-IC-02).
BUYER_VAT_NEEDED = ("AE", "K")


def category(line) -> str:
    """The line's VAT category: as imported, else S above 0 %, E at 0 %."""
    return line.vat_category or ("S" if line.vat_rate else "E")


def vat_groups(invoice, sign: int) -> list[dict]:
    """The VAT breakdown (``BG-23``) of the invoice's lines, per category and rate,
    each without VAT with its reason: the lines' own, else the installation's (E) or
    the category's VATEX code."""
    bases: dict[tuple[str, Decimal], int] = defaultdict(int)
    reasons: dict[tuple[str, Decimal], str] = {}
    for line in invoice.lines:
        key = (category(line), Decimal(line.vat_rate))
        bases[key] += sign * line.amount_ht
        if line.vat_exemption_reason:
            reasons.setdefault(key, line.vat_exemption_reason)
    groups = []
    for (code, rate), base in sorted(bases.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        vat = int((Decimal(base) * rate / 100).quantize(Decimal(1), ROUND_HALF_UP))
        group = {
            "BT-116": decimal_text(base),
            "BT-117": decimal_text(vat),
            "BT-118": code,
            "BT-119": f"{rate:.2f}",
        }
        reason = reasons.get((code, rate))
        if code not in ("S", "Z"):
            if reason or code == "E":
                group["BT-120"] = reason or current_app.config["EINVOICING_EXEMPTION_REASON"]
            else:
                group["BT-121"] = VATEX[code]
        groups.append(group)
    return groups


def en16931(invoice) -> dict:
    """The EN 16931 business terms of ``invoice`` (an invoice or a credit note), or
    :class:`FormatRefused` naming what it lacks for a valid document."""
    issuer = current_app.config["ISSUER"]
    organisation = db.session.get(Organisation, invoice.organisation_id)
    credit_note = invoice.kind == "credit_note"
    sign = -1 if credit_note else 1  # a credit note's amounts are written positive
    missing = []
    if not siren(issuer.get("siret")):
        missing.append(_("the provider's SIREN"))
    if not issuer.get("vat_number"):
        missing.append(_("the provider's VAT number"))
    iban = (issuer.get("iban") or "").replace(" ", "").upper()
    if iban and not iban_is_valid(iban):
        missing.append(_("a valid IBAN for the provider"))
    means = invoice.payment_means or (SEPA_CREDIT_TRANSFER if iban else "")
    if means in TRANSFERS and not iban and not credit_note:
        missing.append(_("the provider's IBAN, for a payment by transfer"))
    buyer_vat = invoice.recipient_vat_number or organisation.vat_number
    if not buyer_vat and any(category(line) in BUYER_VAT_NEEDED for line in invoice.lines):
        missing.append(_("the customer's VAT number (reverse charge or intra-EU supply)"))
    buyer_siren = siren(invoice.recipient_siret) or siren(organisation.siret)
    if not buyer_siren:
        missing.append(_("the customer's SIREN"))
    if not invoice.lines:
        missing.append(_("the invoice lines"))
    if not credit_note and invoice.due_on is None:
        missing.append(_("the due date"))
    if missing:
        raise FormatRefused(
            _("This document cannot be made: it lacks %(missing)s.", missing=", ".join(missing)),
            missing,
        )
    groups = vat_groups(invoice, sign)
    lines_total = sum(sign * line.amount_ht for line in invoice.lines)
    vat_total = sum(int(Decimal(g["BT-117"]) * 100) for g in groups)
    if lines_total != sign * invoice.total_ht or vat_total != sign * (
        invoice.total_ttc - invoice.total_ht
    ):
        raise FormatRefused(
            _(
                "This document cannot be made: its lines (%(lines)s excl. VAT, %(vat)s "
                "of VAT) do not add up to its totals (%(total)s excl. VAT, %(total_vat)s "
                "of VAT).",
                lines=money(lines_total, invoice.currency),
                vat=money(vat_total, invoice.currency),
                total=money(sign * invoice.total_ht, invoice.currency),
                total_vat=money(sign * (invoice.total_ttc - invoice.total_ht), invoice.currency),
            ),
            [_("lines that add up to the totals")],
        )
    buyer = {
        "name": invoice.recipient_name or organisation.name,
        "legal_identifier": buyer_siren,
        "legal_identifier_schemeid": SIREN_SCHEME,
        **address(invoice.recipient_address or organisation.address),
    }
    if buyer_vat:
        buyer["vat_identifier"] = buyer_vat
    if invoice.recipient_routing_id:  # where the buyer's platform receives it (BT-49)
        buyer["einvoicing_addr"] = invoice.recipient_routing_id
        buyer["einvoicing_addr_schemeid"] = invoice.recipient_routing_scheme or ROUTING_SCHEME
    seller = {
        "name": issuer["name"],
        "legal_identifier": siren(issuer["siret"]),
        "legal_identifier_schemeid": SIREN_SCHEME,
        "vat_identifier": issuer["vat_number"],
        **address(issuer.get("address", "")),
    }
    if issuer.get("routing_id"):  # BT-34
        seller["einvoicing_addr"] = issuer["routing_id"]
        seller["einvoicing_addr_schemeid"] = issuer.get("routing_scheme") or ROUTING_SCHEME
    data = {
        "BT-1": invoice.number,
        "BT-2": invoice.issued_on,
        "BT-3": CREDIT_NOTE if credit_note else INVOICE,
        "BT-5": invoice.currency,
        "BT-24": "urn:cen.eu:en16931:2017",
        # the day of supply: the invoice's own, as no other is known (CII writes the
        # delivery block only with something in it)
        "BT-72": invoice.issued_on,
        "BG-4": seller,
        "BG-7": buyer,
        "BG-23": groups,
        "BG-25": [
            {
                "BT-126": str(line.position),
                # a credit note writes what it credits: positive quantities and amounts
                "BT-129": f"{abs(Decimal(line.quantity)) if credit_note else line.quantity:f}",
                "BT-130": UNIT,
                "BT-131": decimal_text(sign * line.amount_ht),
                "BT-146": f"{Decimal(line.unit_price_ht).quantize(Decimal('0.0001')):f}",
                "BT-151": category(line),
                "BT-152": f"{Decimal(line.vat_rate):.2f}",
                "BT-153": line.label,
            }
            for line in invoice.lines
        ],
        "BT-106": decimal_text(lines_total),
        "BT-109": decimal_text(sign * invoice.total_ht),
        "BT-110": decimal_text(vat_total),
        "BT-112": decimal_text(sign * invoice.total_ttc),
        "BT-115": decimal_text(sign * invoice.total_ttc),
    }
    if means and not credit_note:  # how to pay; a transfer names the number as reference
        data["BT-81"] = means
        if means in TRANSFERS:
            data.update({"BT-83": invoice.number, "BT-84": iban})
            if issuer.get("bic"):
                data["BT-86"] = issuer["bic"]
    if invoice.payment_terms:
        data["BT-20"] = invoice.payment_terms
    if invoice.buyer_reference:
        data["BT-10"] = invoice.buyer_reference
    if invoice.due_on is not None:
        data["BT-9"] = invoice.due_on
    if invoice.purchase_order:
        data["BT-13"] = invoice.purchase_order
    if invoice.framework_contract or invoice.local_contract:
        data["BT-12"] = invoice.framework_contract or invoice.local_contract
    if invoice.cancels:
        data["BG-3"] = [{"BT-25": invoice.cancels}]
    if invoice.notes:
        data["BG-1"] = [{"BT-22": invoice.notes}]
    return data
