"""WSGI entry point: ``gunicorn wsgi:app``."""

from core import create_app
from core.security import claim_memory_limits

app = create_app()
claim_memory_limits(app)
