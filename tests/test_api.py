"""The import API: tokens, JSON batches, faults, the OpenAPI document; account imports."""

import io
from datetime import date

import pytest
from openapi_spec_validator import validate
from pypdf import PdfReader
from sqlalchemy import func, select

from core import api
from core.documents import encode_pdf
from core.extensions import db
from core.models import Account, ApiToken, AuditEvent, Organisation
from plugins.contracts.models import Contract
from plugins.invoices.models import Invoice
from tests.conftest import one_page_pdf, run_cli

SIRET = "35600000000048"


@pytest.fixture
def token():
    _token, clear = api.issue_token("billing system")
    db.session.commit()
    return clear


def post(client, path, body, token, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/{path}", json=body, headers=headers, **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def account_item(code="00002501", **values):
    item = {
        "client_code": code,
        "name": f"Compte {code}",
        "organisation": {"siret": SIRET, "name": "Client 1"},
    }
    item.update(values)
    return item


def test_openapi_document_is_valid_and_lists_every_import(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert {"/accounts", "/contracts", "/invoices"} <= set(document["paths"])
    invoice = document["paths"]["/invoices"]["post"]
    assert "422" in invoice["responses"]


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer gch_wrong", "Basic dXNlcjpwYXNz", "gch_x"]
)
def test_no_valid_token_is_401_in_json(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/accounts", json=[account_item()], headers=headers)
    assert response.status_code == 401
    assert "bearer token" in response.get_json()["error"]
    assert count(Account) == 0


def test_a_revoked_token_is_refused(client, token):
    revoked = db.session.scalar(select(ApiToken))
    api.revoke_token(revoked)
    db.session.commit()
    assert post(client, "accounts", [account_item()], token).status_code == 401


def test_accounts_create_their_organisation_then_change_nothing(client, token):
    batch = {"accounts": [account_item(), account_item("04008041", parent_code="00002501")]}
    response = post(client, "accounts", batch, token)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "created": ["00002501", "04008041"],
        "updated": [],
        "unchanged": [],
    }
    org = db.session.scalar(select(Organisation).where(Organisation.siret == SIRET))
    assert [a.client_code for a in org.accounts] == ["00002501", "04008041"]
    assert org.accounts[1].parent.client_code == "00002501"
    again = post(client, "accounts", batch, token).get_json()
    assert again["unchanged"] == ["00002501", "04008041"]
    renamed = post(client, "accounts", [account_item(name="Siège")], token).get_json()
    assert renamed["updated"] == ["00002501"]
    assert db.session.scalar(select(ApiToken)).last_used_at is not None
    assert db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "account.update")
    )


def test_account_faults_are_named_and_nothing_is_written(client, token, org):
    batch = [
        account_item("A1", organisation={"siret": "123"}),
        account_item("A2", organisation={"siret": "11111111111111"}),  # new: needs a name
        account_item("00002501", organisation={"siret": SIRET}),  # belongs to Client 1
        account_item("A3", parent_code="NOPE"),
        account_item("A3"),
        "not an object",
    ]
    org.siret = "99999999999999"
    db.session.commit()
    response = post(client, "accounts", batch, token)
    assert response.status_code == 422
    faults = {(f["row"], f["field"]): f["message"] for f in response.get_json()["faults"]}
    assert faults == {
        (1, "organisation.siret"): "a SIRET has 14 digits",
        (2, "organisation.name"): "is required for a new organisation",
        (3, "client_code"): "00002501 belongs to another organisation",
        (4, "parent_code"): "unknown client code NOPE",
        (5, "client_code"): "A3 appears twice in the batch",
        (6, "account"): "must be an object",  # and nothing else to say of it
    }
    assert count(Account) == 2 and count(Organisation) == 1


@pytest.mark.parametrize(
    "kwargs, status, message",
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": "a,b", "content_type": "text/csv"}, 415, "send JSON"),
        ({"json": {"invoices": "x"}}, 400, 'a "accounts" list'),
        ({"json": 3}, 400, "send a list"),
    ],
)
def test_malformed_bodies_get_a_clear_4xx(client, token, kwargs, status, message):
    response = client.post(
        "/api/v1/accounts", headers={"Authorization": f"Bearer {token}"}, **kwargs
    )
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_a_body_over_the_limit_is_413(app, client, token):
    app.config["API_MAX_CONTENT_LENGTH"] = 1000
    try:
        response = post(client, "accounts", [account_item(name="x" * 2000)], token)
    finally:
        app.config["API_MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    assert response.status_code == 413 and "error" in response.get_json()


def test_invoices_with_their_stored_pdf(client, token, org, logged_in):
    pdf = one_page_pdf("Facture du fournisseur 62274737")
    invoice = {
        "number": "62274737",
        "date": date.today().isoformat(),
        "total_ht": "56267.25",
        "total_ttc": "67520.70",
        "client_code": "00002501",
        "pdf": encode_pdf(pdf),
    }
    response = post(client, "invoices", {"invoices": [invoice]}, token)
    assert response.get_json()["created"] == ["62274737"]
    stored = db.session.scalar(select(Invoice))
    download = logged_in.get(f"/factures/{stored.id}/pdf")
    assert download.data == pdf  # the provider's file, not ours
    assert "Facture du fournisseur" in PdfReader(io.BytesIO(download.data)).pages[0].extract_text()
    again = post(client, "invoices", [invoice], token).get_json()
    assert again["unchanged"] == ["62274737"]


def test_an_invoice_pdf_that_is_not_a_pdf_rejects_the_batch(client, token, org):
    good = {
        "number": "1",
        "date": "2026-01-01",
        "total_ht": "1",
        "total_ttc": "1.2",
        "client_code": "00002501",
    }
    bad = dict(good, number="2", pdf=encode_pdf(b"%PDF-1.4 truncated"))
    response = post(client, "invoices", [good, bad], token)
    assert response.status_code == 422
    (fault,) = response.get_json()["faults"]
    assert (fault["row"], fault["field"]) == (2, "pdf")
    assert fault["message"].startswith("is not a readable PDF")
    assert count(Invoice) == 0


def test_contracts_through_the_api(client, token, org):
    contract = {
        "number": "1-10265655331 - 0",
        "product": "Compte Clients",
        "client_code": "04008041",
        "start_date": "01/01/2020",
    }
    response = post(client, "contracts", {"contracts": [contract]}, token)
    assert response.get_json()["created"] == ["1-10265655331 - 0"]
    assert db.session.scalar(select(Contract.product)) == "Compte Clients"


def test_each_token_has_its_own_rate_limit(app, client, token, monkeypatch):
    """A runaway integration is answered 429 in JSON; another token is not held back."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    answers = [post(client, "accounts", [account_item()], token).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = post(client, "accounts", [account_item()], token)
    assert refused.status_code == 429
    assert refused.get_json() == {
        "error": "too many calls with this token (API_RATE_LIMIT); wait, then retry"
    }
    _other, clear = api.issue_token("second system")
    db.session.commit()
    assert post(client, "accounts", [account_item()], clear).status_code == 200
    assert count(Account) == 1  # the refused calls wrote nothing


def test_cli_tokens_and_account_csv(app, tmp_path):
    created = run_cli(app, "token", "create", "erp")
    assert created.exit_code == 0 and created.output.startswith(api.TOKEN_PREFIX)
    listed = run_cli(app, "token", "list").output
    assert "erp\tactive" in listed
    token_id = listed.split("\t")[0]
    assert run_cli(app, "token", "revoke", token_id).exit_code == 0
    assert "erp\trevoked" in run_cli(app, "token", "list").output
    path = tmp_path / "accounts.csv"
    path.write_text(
        "client_code;name;parent_code;organisation_siret;organisation_name\n"
        f"00002501;Siège;;{SIRET};Client 1\n"
        f"04008041;Agence de Lyon;00002501;{SIRET};\n"
        "04008042;Agence;;12;\n"
    )
    result = run_cli(app, "accounts", "import", str(path))
    assert result.exit_code == 1
    assert "line 4, organisation.siret: a SIRET has 14 digits" in result.output
    path.write_text(path.read_text().rsplit("04008042", 1)[0])
    result = run_cli(app, "accounts", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output


def test_operator_issues_and_revokes_tokens(client, operator):
    client.login(operator.email)
    page = client.post("/operator/api-tokens", data={"name": "ERP"}).get_data(as_text=True)
    clear = page.split('<code class="token">')[1].split("</code>")[0]
    assert clear.startswith(api.TOKEN_PREFIX)
    assert post(client, "accounts", [], clear).status_code == 200
    token = db.session.scalar(select(ApiToken))
    assert client.post(f"/operator/api-tokens/{token.id}/revoke").status_code == 302
    assert post(client, "accounts", [], clear).status_code == 401
    assert client.post("/operator/api-tokens", data={"name": ""}).status_code == 422
