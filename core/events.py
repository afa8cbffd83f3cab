"""Domain events (``invoice.created``, ``payment.paid``, ...) delivered to plugins."""

from __future__ import annotations

from typing import Any

from flask import current_app

from core.appsystem import registry
from core.metrics import EVENTS


def emit(name: str, payload: dict[str, Any]) -> None:
    """Call ``guichet_event(name, payload)`` on the plugins concerned: with an
    ``organisation_id`` in ``payload``, only those of the apps it has enabled; without
    one, every plugin. A plugin that raises is logged and does not stop the others."""
    EVENTS.labels(name).inc()
    org_id = payload.get("organisation_id")
    apps = registry(current_app)
    hooks = apps.for_installation() if org_id is None else apps.for_organisation(org_id)
    hooks.call("guichet_event", name=name, payload=payload)
