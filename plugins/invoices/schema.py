"""JSON Schema of one invoice as the import API takes it (published in OpenAPI)."""

AMOUNT = {
    "type": ["string", "number"],
    "description": 'in currency units, two decimals at most: 56267.25 or "56 267,25"',
}
DATE = {"type": "string", "description": "2022-05-27 or 27/05/2022"}
TEXT = {"type": "string"}

INVOICE_SCHEMA = {
    "type": "object",
    "required": ["number", "date", "total_ht", "total_ttc", "client_code"],
    "properties": {
        "number": {"type": "string", "maxLength": 32, "examples": ["62274737"]},
        "type": {"enum": ["invoice", "credit_note"], "default": "invoice"},
        "cancels": {
            "type": "string",
            "maxLength": 32,
            "description": "on a credit note: the number of the invoice it cancels (in whole or "
            "in part); its amount is set against that invoice's",
            "examples": ["62274737"],
        },
        "date": DATE,
        "due_date": DATE,
        "status": {"enum": ["to_pay", "paid"], "default": "to_pay"},
        "currency": {"type": "string", "default": "EUR"},
        "total_ht": AMOUNT,
        "total_ttc": AMOUNT,
        "subscriber": TEXT,
        "notes": {
            "type": "string",
            "maxLength": 2000,
            "description": "mentions printed on the document (a VAT exemption...)",
        },
        "client_code": {"type": "string", "description": "the account's client code"},
        "sub_account": {"type": "string", "description": "a client code of the same organisation"},
        "edi": {"type": "boolean"},
        "references": {
            "type": "object",
            "properties": {
                name: TEXT
                for name in (
                    "business_unit",
                    "site_1",
                    "site_2",
                    "purchase_order",
                    "framework_contract",
                    "local_contract",
                )
            },
        },
        "recipient": {
            "type": "object",
            "properties": {"name": TEXT, "siret": {"type": "string"}, "address": TEXT},
        },
        "lines": {
            "type": "array",
            "description": "their amount_ht add up to total_ht",
            "items": {
                "type": "object",
                "required": ["quantity", "unit_price_ht", "vat_rate", "amount_ht"],
                "properties": {
                    "order_number": TEXT,
                    "label": TEXT,
                    "quantity": {"type": ["string", "number"]},
                    "unit_price_ht": {"type": ["string", "number"]},
                    "vat_rate": {"type": ["string", "number"], "description": "percent: 20"},
                    "amount_ht": AMOUNT,
                },
            },
        },
        "ranges": {
            "type": "array",
            "description": "the summary by product range; their total_ht add up to total_ht",
            "items": {
                "type": "object",
                "required": ["label", "total_ht", "total_ttc"],
                "properties": {"label": TEXT, "total_ht": AMOUNT, "total_ttc": AMOUNT},
            },
        },
        "pdf": {
            "type": "string",
            "contentEncoding": "base64",
            "description": "the provider's own PDF; served instead of the rendered one",
        },
    },
}
