"""One contract as the import API and the CSV import take it: the model gives the
OpenAPI schema and every fault of a batch, by row and field."""

from pydantic import model_validator

from core.plugin_api import (
    FieldErrors,
    ImportItem,
    choice_field,
    client_code_field,
    decode_pdf,
    list_field,
    parse_date,
    parsed_field,
    text_field,
)

DATE = {"type": "string", "description": "2022-05-27 or 27/05/2022"}
PDF = {"type": "string", "contentEncoding": "base64"}


class ContractDocumentItem(ImportItem):
    title: text_field(required=True, examples=("Conditions spécifiques de vente",))
    pdf: parsed_field(decode_pdf, PDF)


class ContractItem(ImportItem):
    number: text_field(40, required=True, examples=("1-10265655331 - 0",))
    product: text_field(required=True, examples=("Compte Clients",))
    client_code: client_code_field()
    status: choice_field("active", "suspended", "ended", default="active") = "active"
    start_date: parsed_field(parse_date, DATE)
    end_date: parsed_field(parse_date, DATE, required=False) = None
    documents: list_field(ContractDocumentItem) = []

    @model_validator(mode="after")
    def dates_in_order(self):
        if self.end_date and self.end_date < self.start_date:
            raise FieldErrors([("end_date", "is before start_date")])
        return self
