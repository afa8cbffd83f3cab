"""The built-in postal provider: letters go to a print shop through an outbox and come
back as status files in an inbox. Each letter is a print-ready PDF plus a JSON manifest
in the outbox; the print shop drops status files (``<reference>.json``:
``{"status": "printed", "detail": "…"}``) in the inbox. Both are folders under
``instance/postal`` unless configured (``POSTAL_OUTBOX``, ``POSTAL_INBOX``); with
``POSTAL_EXCHANGE = "storage"`` they are the ``postal/outbox/`` and ``postal/inbox/``
prefixes of the document storage (a bucket the print shop reads and writes, shared by
every worker)."""

from __future__ import annotations

import json
from pathlib import Path

from core.plugin_api import (
    LETTER_STATUSES as STATUSES,
)
from core.plugin_api import (
    DocumentMissing,
    LetterState,
    LocalStorage,
    PostalError,
    PostalProvider,
    Storage,
    StorageError,
    storage,
    utcnow,
)

# A base price plus a price per page, by option (cents): 1,45 € for one page in black
# and white, 1,55 € for two.
DEFAULT_PRICES = {
    "base": 135,
    "page": 10,
    "colour_page": 30,
    "duplex_page": 8,
    "registered": 520,
    "priority": 60,
}


class PrintShop(PostalProvider):
    key = "printshop"
    name = "Print shop (outbox and inbox)"

    @property
    def prices(self) -> dict[str, int]:
        return {**DEFAULT_PRICES, **self.config.get("POSTAL_PRICES", {})}

    def box(self, name: str) -> tuple[Storage, str]:
        """The ``outbox`` or ``inbox``: where its files go, and their keys' prefix."""
        if self.config.get("POSTAL_EXCHANGE") == "storage":
            return storage(), f"postal/{name}/"
        configured = self.config.get(f"POSTAL_{name.upper()}")
        return LocalStorage(configured or Path(self.config["INSTANCE_PATH"]) / "postal" / name), ""

    def price(self, pages, options):
        prices = self.prices
        if options.colour:
            per_page = prices["colour_page"]
        else:
            per_page = prices["duplex_page"] if options.duplex else prices["page"]
        total = prices["base"] + pages * per_page
        if options.registered:
            total += prices["registered"]
        if options.priority:
            total += prices["priority"]
        return total

    def submit(self, letter):
        outbox, prefix = self.box("outbox")
        manifest = {
            "reference": letter.reference,
            "pages": letter.pages,
            "address": list(letter.address),
            "country": letter.country,
            "options": {
                name: getattr(letter.options, name)
                for name in ("colour", "duplex", "registered", "priority")
            },
            "submitted_at": utcnow().isoformat(),
        }
        try:  # each file whole or not at all: the print shop never sees half of one
            outbox.put(f"{prefix}{letter.reference}.pdf", letter.pdf)
            outbox.put(f"{prefix}{letter.reference}.json", json.dumps(manifest, indent=2).encode())
        except StorageError as error:
            raise PostalError(f"the outbox cannot be written: {error}", retry=True) from error
        return letter.reference

    def state(self, reference):
        inbox, prefix = self.box("inbox")
        try:
            data = json.loads(inbox.read(f"{prefix}{reference}.json").decode("utf-8"))
        except DocumentMissing:
            return None
        except ValueError:
            return None  # broken: the print shop will write it again
        status = data.get("status") if isinstance(data, dict) else None
        if status not in STATUSES:
            return None
        return LetterState(status, str(data.get("detail", ""))[:500])

    def cancel(self, reference):
        outbox, prefix = self.box("outbox")
        pdf = f"{prefix}{reference}.pdf"
        if (
            not outbox.exists(pdf)
            or (self.state(reference) or LetterState("submitted")).status != "submitted"
        ):
            return False
        outbox.delete(pdf)
        outbox.delete(f"{prefix}{reference}.json")
        return True
