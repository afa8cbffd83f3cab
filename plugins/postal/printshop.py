"""The built-in postal provider: letters go to a print shop through folders. Each
letter is a print-ready PDF plus a JSON manifest in the outbox; the print shop drops
status files (``<reference>.json``: ``{"status": "printed", "detail": "…"}``) in the
inbox. Both folders are under ``instance/postal`` unless configured."""

from __future__ import annotations

import json
from pathlib import Path

from core.plugin_api import (
    LETTER_STATUSES as STATUSES,
)
from core.plugin_api import (
    LetterState,
    PostalError,
    PostalProvider,
    utcnow,
    write_atomically,
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


def _write(path: Path, data: bytes) -> None:
    write_atomically(path, lambda handle: handle.write(data))  # never half a file


class PrintShop(PostalProvider):
    key = "printshop"
    name = "Print shop (outbox folder)"

    @property
    def prices(self) -> dict[str, int]:
        return {**DEFAULT_PRICES, **self.config.get("POSTAL_PRICES", {})}

    def folder(self, name: str) -> Path:
        configured = self.config.get(f"POSTAL_{name.upper()}")
        path = Path(configured or Path(self.config["INSTANCE_PATH"]) / "postal" / name)
        path.mkdir(parents=True, exist_ok=True)
        return path

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
        outbox = self.folder("outbox")
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
        try:
            _write(outbox / f"{letter.reference}.pdf", letter.pdf)
            _write(outbox / f"{letter.reference}.json", json.dumps(manifest, indent=2).encode())
        except OSError as error:
            raise PostalError(f"the outbox cannot be written: {error}", retry=True) from error
        return letter.reference

    def state(self, reference):
        path = self.folder("inbox") / f"{reference}.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None  # being written, or broken: the print shop will write it again
        status = data.get("status") if isinstance(data, dict) else None
        if status not in STATUSES:
            return None
        return LetterState(status, str(data.get("detail", ""))[:500])

    def cancel(self, reference):
        outbox = self.folder("outbox")
        pdf = outbox / f"{reference}.pdf"
        if (
            not pdf.exists()
            or (self.state(reference) or LetterState("submitted")).status != "submitted"
        ):
            return False
        pdf.unlink()
        (outbox / f"{reference}.json").unlink(missing_ok=True)
        return True
