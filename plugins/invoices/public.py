"""The invoices app's public contract: what another app may use of it. An app imports
this module and nothing else of the invoices app (an import-linter contract holds it),
and shows an invoice only where the invoices app is usable (``app_usable(APP_KEY)``,
or ``requires=("invoices",)`` in its declaration). It reads invoices; it never writes
them: what a payment does to them is this app's ``invoices`` payment purpose. Their
documents come through the document formats: ``document_file(invoice, "pdf")``."""

from .models import Invoice

APP_KEY = "invoices"

__all__ = ["APP_KEY", "Invoice"]
