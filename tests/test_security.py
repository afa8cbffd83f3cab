from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Organisation


class InlineCode(HTMLParser):
    """Finds what a strict CSP would block: inline scripts, style tags and attributes,
    and event-handler attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag}[{n}]" for n in names if n == "style" or n.startswith("on")]


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_security_headers_on_every_page(client):
    headers = client.get("/login").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/login", "/password/forgot", "/nope"])
def test_anonymous_pages_have_no_inline_code(client, path):
    assert inline_code(client.get(path).get_data(as_text=True)) == []


def test_customer_pages_have_no_inline_code(logged_in):
    for path in ["/", "/scope", "/mon-compte/", "/mon-compte/password"]:
        response = logged_in.get(path)
        assert response.status_code == 200, path
        assert inline_code(response.get_data(as_text=True)) == [], path


def test_operator_pages_have_no_inline_code(client, operator, org):
    client.login(operator.email)
    for path in [
        "/operator/organisations",
        f"/operator/organisations/{org.id}",
        "/operator/users",
        "/operator/apps",
        "/operator/audit",
        "/operator/organisations/new",
        f"/operator/accounts/{org.accounts[0].id}",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert inline_code(response.get_data(as_text=True)) == [], path


def test_forged_csrf_is_refused_and_changes_nothing(client, operator):
    client.login(operator.email)
    response = client.post(
        "/operator/organisations/new",
        data={"name": "Forged", "locale": "fr"},
        headers={"X-CSRFToken": "forged"},
        csrf=False,
    )
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0


def test_missing_csrf_on_htmx_request_is_refused(client, operator, org):
    client.login(operator.email)
    response = client.htmx(
        "POST", f"/operator/apps/{org.id}/account", data={"enabled": "0"}, csrf=False
    )
    assert response.status_code == 400


def test_oversized_body_is_refused_with_413(client, operator):
    client.login(operator.email)
    big = "x" * (16 * 1024 * 1024 + 1)
    response = client.post("/operator/organisations/new", data={"name": big, "locale": "fr"})
    assert response.status_code == 413
    assert "trop volumineuses" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0


def test_not_found_page_is_in_the_portal_style(client):
    response = client.get("/does/not/exist")
    assert response.status_code == 404
    assert "Cette page n’existe pas" in response.get_data(as_text=True)


def test_unexpected_error_is_a_styled_500_and_logged(app, client, caplog):
    from tests.conftest import make_app

    failing = make_app(app.instance_path, PROPAGATE_EXCEPTIONS=False, TESTING=False)

    @failing.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = failing.test_client().get("/boom")
    assert response.status_code == 500
    assert "Une erreur s’est produite de notre côté" in response.get_data(as_text=True)
    assert "kaboom" not in response.get_data(as_text=True)
    assert "kaboom" in caplog.text


def test_secret_key_is_generated_once_in_the_instance_folder(tmp_path, monkeypatch):
    from tests.conftest import make_app

    first = make_app(tmp_path, SECRET_KEY=None)
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(first.config["SECRET_KEY"]) >= 32
    assert make_app(tmp_path, SECRET_KEY=None).config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_configuration_from_environment_and_instance_file(tmp_path, monkeypatch):
    from tests.conftest import make_app

    (tmp_path / "guichet.toml").write_text("PAGE_SIZE = 50\nMAIL_PORT = 2525\n")
    monkeypatch.setenv("GUICHET_MAIL_PORT", "2626")
    configured = make_app(tmp_path)
    assert configured.config["PAGE_SIZE"] == 50
    assert configured.config["MAIL_PORT"] == 2626  # the environment wins over the file


def test_row_url_writes_what_url_for_writes_and_only_an_id(app):
    import pytest
    from flask import url_for

    from core.rendering import row_url

    with app.test_request_context():
        detail, pdf = (
            row_url("invoices.detail", "invoice_id"),
            row_url("invoices.pdf", "invoice_id"),
        )
        for row_id in (1, 42, 918273645, "7"):
            assert detail(row_id) == url_for("invoices.detail", invoice_id=int(row_id))
            assert pdf(row_id) == url_for("invoices.pdf", invoice_id=int(row_id))
        with pytest.raises(ValueError):
            detail('7"><script>')
