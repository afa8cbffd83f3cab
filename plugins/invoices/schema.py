"""One invoice or credit note as the import API and the CSV import take it: the model
gives the OpenAPI schema and every fault of a batch, by row and field."""

import re
from typing import Annotated

from pydantic import BeforeValidator, ValidationInfo, model_validator

from core.plugin_api import (
    FieldErrors,
    ImportItem,
    choice_field,
    client_code_field,
    currency_field,
    decimal_parser,
    decode_pdf,
    list_field,
    parse_amount,
    parse_bool,
    parse_date,
    parsed_field,
    text_field,
)

AMOUNT = {
    "type": ["string", "number"],
    "description": 'in currency units, two decimals at most: 56267.25 or "56 267,25"',
}
NUMBER = {"type": ["string", "number"], "description": "in digits: 1250 or 0,25"}
DATE = {"type": "string", "description": "2022-05-27 or 27/05/2022"}
#: EN 16931's VAT categories (UNTDID 5305): standard, zero rated, exempt, reverse
#: charge, intra-community supply, export, outside the scope of VAT.
VAT_CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")
#: The means of payment EN 16931 names (UNTDID 4461): transfer, SEPA transfer, direct
#: debit, SEPA direct debit, card, cheque, cash...
PAYMENT_MEANS = ("10", "20", "30", "31", "42", "48", "49", "57", "58", "59", "97")
VAT_NUMBER = re.compile(r"^[A-Z]{2}[0-9A-Z+*.]{2,13}$")
SECTION = BeforeValidator(lambda value: {} if value is None else value)  # null: none given


class InvoiceLineItem(ImportItem):
    order_number: text_field(50) = ""
    label: text_field(300) = ""
    quantity: parsed_field(decimal_parser(18, 3), NUMBER)  # each number fits its column
    unit_price_ht: parsed_field(decimal_parser(18, 6), NUMBER)
    vat_rate: parsed_field(decimal_parser(5, 2), NUMBER | {"description": "percent: 20"})
    amount_ht: parsed_field(parse_amount, AMOUNT)
    vat_category: choice_field("", *VAT_CATEGORIES, default="") = ""
    vat_exemption_reason: text_field(
        300, description="why a line bears no VAT (E, AE, K, G, O): 'Exonération, art. 261 CGI'"
    ) = ""


class InvoiceRangeItem(ImportItem):
    """A line of the summary by product range."""

    label: text_field(required=True)
    total_ht: parsed_field(parse_amount, AMOUNT)
    total_ttc: parsed_field(parse_amount, AMOUNT)


class InvoiceReferences(ImportItem):
    business_unit: text_field(100) = ""
    site_1: text_field(100) = ""
    site_2: text_field(100) = ""
    purchase_order: text_field(100) = ""
    framework_contract: text_field(100) = ""
    local_contract: text_field(100) = ""


class InvoiceRecipient(ImportItem):
    name: text_field() = ""
    siret: text_field(14) = ""
    address: text_field(500) = ""
    vat_number: text_field(20, description="intra-community VAT number: FR40303265045") = ""
    routing_id: text_field(
        100, description="where e-invoices reach the buyer: its address in the directory"
    ) = ""
    routing_scheme: text_field(
        4,
        description="the ISO 6523 scheme of routing_id: 0225 (French directory, the "
        "default), 0009 (SIRET), 0088 (GLN)...",
    ) = ""

    @model_validator(mode="after")
    def identifiers_are_well_formed(self):
        faults = []
        if self.siret and not (self.siret.isdigit() and len(self.siret) == 14):
            faults.append(("recipient.siret", "a SIRET has 14 digits"))
        if self.vat_number and not VAT_NUMBER.match(self.vat_number):
            faults.append(("recipient.vat_number", "a VAT number: 2 letters, then 2-13 more"))
        if self.routing_scheme and not (
            self.routing_scheme.isdigit() and len(self.routing_scheme) == 4
        ):
            faults.append(("recipient.routing_scheme", "an ISO 6523 scheme has 4 digits"))
        if self.routing_scheme and not self.routing_id:
            faults.append(("recipient.routing_id", "is required with routing_scheme"))
        if faults:
            raise FieldErrors(faults)
        return self


class InvoiceItem(ImportItem):
    number: text_field(32, required=True, examples=("62274737",))
    type: choice_field("invoice", "credit_note", default="invoice") = "invoice"
    cancels: text_field(
        32,
        description="on a credit note: the number of the invoice it cancels (in whole or in "
        "part); its amount is set against that invoice's",
    ) = ""
    date: parsed_field(parse_date, DATE)
    due_date: parsed_field(parse_date, DATE, required=False) = None
    status: choice_field("to_pay", "paid", default="to_pay") = "to_pay"
    paid_on: parsed_field(
        parse_date,
        {**DATE, "description": "on a paid invoice: the day it was paid (else the import's)"},
        required=False,
    ) = None
    currency: currency_field() = "EUR"
    total_ht: parsed_field(parse_amount, AMOUNT)
    total_ttc: parsed_field(parse_amount, AMOUNT)
    subscriber: text_field() = ""
    notes: text_field(2000, description="mentions printed on the document (a VAT exemption...)") = (
        ""
    )
    client_code: client_code_field()
    sub_account: text_field(32, description="a client code of the same organisation") = ""
    edi: parsed_field(parse_bool, {"type": "boolean"}, required=False) = None
    buyer_reference: text_field(
        100, description="what the buyer asks its invoices to carry (a service code)"
    ) = ""
    payment_terms: text_field(1000, description="as written: '30 jours fin de mois'") = ""
    payment_means: choice_field("", *PAYMENT_MEANS, default="") = (
        ""  # "": a SEPA transfer where the issuer gives an IBAN
    )
    references: Annotated[InvoiceReferences, SECTION] = InvoiceReferences()
    recipient: Annotated[InvoiceRecipient, SECTION] = InvoiceRecipient()
    lines: list_field(InvoiceLineItem) = []
    ranges: list_field(InvoiceRangeItem) = []
    pdf: parsed_field(
        decode_pdf,
        {
            "type": "string",
            "contentEncoding": "base64",
            "description": "the provider's own PDF; served instead of the rendered one",
        },
        required=False,
    ) = None

    @model_validator(mode="after")
    def consistent(self, info: ValidationInfo):
        """What holds between fields: a credit note cancels another invoice, a
        sub-account is of the same organisation, the amounts' signs and sums."""
        faults = []
        if self.cancels and self.type != "credit_note":
            faults.append(("cancels", "only a credit note cancels an invoice"))
        elif self.cancels and self.cancels == self.number:
            faults.append(("cancels", "a credit note cannot cancel itself"))
        if self.paid_on and (self.status != "paid" or self.type != "invoice"):
            faults.append(("paid_on", "only a paid invoice has a day it was paid"))
        elif self.paid_on and self.paid_on < self.date:
            faults.append(("paid_on", "an invoice is paid on or after its date"))
        accounts = (info.context or {}).get("accounts", {})
        sub, account = accounts.get(self.sub_account), accounts.get(self.client_code)
        if self.sub_account and (sub is None or sub.organisation_id != account.organisation_id):
            faults.append(
                ("sub_account", f"unknown client code {self.sub_account} in this organisation")
            )
        sign = -1 if self.type == "credit_note" else 1
        if sign * self.total_ht < 0 or sign * self.total_ttc < 0:
            faults.append(
                ("total_ht", "a credit note has negative amounts, an invoice positive ones")
            )
        for n, line in enumerate(self.lines, start=1):
            if line.vat_category == "S" and not line.vat_rate:
                faults.append((f"lines[{n}].vat_category", "S is for a rate above 0"))
            elif line.vat_category not in ("", "S") and line.vat_rate:
                faults.append((f"lines[{n}].vat_category", f"{line.vat_category} is at 0 %"))
        if self.lines and sum(line.amount_ht for line in self.lines) != self.total_ht:
            faults.append(("lines", "the lines' amounts do not add up to total_ht"))
        if self.ranges and sum(item.total_ht for item in self.ranges) != self.total_ht:
            faults.append(("ranges", "the ranges' totals do not add up to total_ht"))
        if faults:
            raise FieldErrors(faults)
        return self
