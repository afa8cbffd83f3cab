"""JSON Schema of one consumption record as the import API takes it (published in
OpenAPI)."""

AMOUNT = {"type": ["string", "number"], "description": '56267.25, or "56 267,25"'}

RECORD_SCHEMA = {
    "type": "object",
    "required": [
        "id",
        "client_code",
        "family",
        "product",
        "period",
        "quantity",
        "unit",
        "amount_ht",
    ],
    "properties": {
        "id": {"type": "string", "maxLength": 64, "description": "the provider's record id"},
        "client_code": {"type": "string", "examples": ["04008041"]},
        "contract": {"type": "string", "examples": ["1-10265655331 - 0"]},
        "family": {"type": "string", "examples": ["Affranchissement"]},
        "product": {"type": "string", "examples": ["Lettre verte 20 g"]},
        "period": {"type": "string", "description": "a month (2026-10) or a day (2026-10-15)"},
        "quantity": {"type": ["string", "number"], "examples": ["1250"]},
        "unit": {"type": "string", "examples": ["plis"]},
        "amount_ht": AMOUNT,
        "currency": {"type": "string", "default": "EUR"},
    },
}
