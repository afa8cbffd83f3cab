"""JSON Schema of one contract as the import API takes it (published in OpenAPI)."""

DATE = {"type": "string", "description": "2022-05-27 or 27/05/2022"}

CONTRACT_SCHEMA = {
    "type": "object",
    "required": ["number", "product", "client_code", "start_date"],
    "properties": {
        "number": {"type": "string", "maxLength": 40, "examples": ["1-10265655331 - 0"]},
        "product": {"type": "string", "examples": ["Compte Clients"]},
        "client_code": {"type": "string", "examples": ["04008041"]},
        "status": {"enum": ["active", "suspended", "ended"], "default": "active"},
        "start_date": DATE,
        "end_date": DATE,
        "documents": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "pdf"],
                "properties": {
                    "title": {"type": "string", "examples": ["Conditions spécifiques de vente"]},
                    "pdf": {"type": "string", "contentEncoding": "base64"},
                },
            },
        },
    },
}
