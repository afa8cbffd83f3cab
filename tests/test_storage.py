"""The document storage (issue 23): the local folder and S3-compatible object storage,
the latter against a local S3-speaking server. Documents imported, rendered, zipped
and made into Factur-X live in the bucket and nowhere on the app server's disk; an
unreachable or refusing store fails an import whole with a clear message, /readyz
names it, downloads answer 503; a damaged document is refused; ``guichet storage
migrate`` copies an installation's folder into a bucket, resumably."""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader
from sqlalchemy import func, select

from core import api
from core.documents import encode_pdf
from core.extensions import db
from core.storage import (
    DocumentMissing,
    LocalStorage,
    S3Storage,
    StorageError,
    sha256_of,
)
from plugins.invoices.demo import documented_invoices
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from tests.conftest import invoice_item, make_app, one_page_pdf, run_cli
from tests.servers import S3Stub, s3_server, s3_settings

BUCKETS = itertools.count(1)


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3, request):
    """A new, empty bucket for the test; its name."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[5:40].strip("-")
    name = f"guichet-{next(BUCKETS)}-{slug}"
    s3.client().create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    return name


def objects(s3: S3Stub, bucket: str) -> dict[str, bytes]:
    """Every object of ``bucket``, by key (as another server would see them)."""
    client = s3.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.fixture
def s3_app(tmp_path, s3, bucket):
    """The portal keeping its documents in ``bucket``."""
    return make_app(tmp_path, **s3_settings(s3, bucket))


def token() -> str:
    _token, clear = api.issue_token("billing system")
    db.session.commit()
    return clear


def post_invoice(client, item: dict, bearer: str):
    return client.post(
        "/api/v1/invoices", json=[item], headers={"Authorization": f"Bearer {bearer}"}
    )


def count_invoices() -> int:
    return db.session.scalar(select(func.count()).select_from(Invoice))


# -- the two backends, side by side -----------------------------------------------------


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return LocalStorage(tmp_path / "documents")
    endpoint = request.getfixturevalue("s3")
    name = request.getfixturevalue("bucket")
    return S3Storage(f"s3://{name}/prefix", s3_settings(endpoint, name))


def test_each_backend_keeps_reads_lists_and_deletes(store):
    store.put("stored/ab/one.pdf", b"%PDF-1 one")
    store.put("invoices/cache/two.pdf", b"%PDF-1 two, longer")
    store.put("stored/ab/one.pdf", b"%PDF-1 one")  # again: the same key, replaced whole
    assert store.read("stored/ab/one.pdf") == b"%PDF-1 one"
    stream, size = store.open("invoices/cache/two.pdf")
    with stream:
        assert size == 18 and stream.read() == b"%PDF-1 two, longer"
    assert b"".join(store.chunks("invoices/cache/two.pdf")) == b"%PDF-1 two, longer"
    assert store.sizes(["stored/ab/one.pdf", "nowhere.pdf", "invoices/cache/two.pdf"]) == {
        "stored/ab/one.pdf": 10,
        "invoices/cache/two.pdf": 18,
    }
    assert sorted(store.keys_under()) == ["invoices/cache/two.pdf", "stored/ab/one.pdf"]
    assert list(store.keys_under("stored/")) == ["stored/ab/one.pdf"]
    store.delete("stored/ab/one.pdf")
    store.delete("stored/ab/one.pdf")  # gone already: nothing to do
    assert not store.exists("stored/ab/one.pdf")
    with pytest.raises(DocumentMissing):
        store.read("stored/ab/one.pdf")
    store.check()
    assert list(store.keys_under()) == ["invoices/cache/two.pdf"]  # the check left nothing


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside.pdf", "a/../../b", "a\\b"])
def test_a_key_outside_the_store_is_refused(tmp_path, key):
    with pytest.raises(ValueError, match="not a storage key"):
        LocalStorage(tmp_path).put(key, b"x")


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path)
    store.put("letters/L-1.pdf", b"%PDF-1.4 whole")

    def cut(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.storage.os.replace", cut)
    with pytest.raises(StorageError, match="No space left on device"):
        store.put("letters/L-1.pdf", b"%PDF-1.4 new")
    assert store.read("letters/L-1.pdf") == b"%PDF-1.4 whole"  # the old file stays whole
    assert [p.name for p in (tmp_path / "letters").iterdir()] == ["L-1.pdf"]  # no part left


def test_the_folder_never_shows_half_a_file(tmp_path):
    store = LocalStorage(tmp_path)
    (tmp_path / "stored").mkdir()
    (tmp_path / "stored" / "taken").write_bytes(b"a file where a folder should be")
    with pytest.raises(StorageError, match="cannot be written"):
        store.put("stored/taken/x.pdf", b"%PDF")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["stored", "taken"]  # no .part


# -- the portal on a bucket -------------------------------------------------------------


def test_documents_live_in_the_bucket_and_any_server_serves_them(
    tmp_path, s3, bucket, s3_app, customer
):
    pdf = one_page_pdf("Facture du fournisseur 62274737")
    with s3_app.app_context():
        bearer = token()
    client = s3_app.test_client()
    created = post_invoice(client, invoice_item("62274737", pdf=encode_pdf(pdf)), bearer)
    assert created.status_code == 200 and created.get_json()["created"] == ["62274737"]
    assert post_invoice(client, invoice_item("62274738"), bearer).status_code == 200
    kept = objects(s3, bucket)
    key = f"guichet/stored/{sha256_of(pdf)[:2]}/{sha256_of(pdf)}.pdf"
    assert kept == {key: pdf}  # under the prefix, by content
    assert not (tmp_path / "documents").exists()  # nothing on this server's disk
    # a second server, another instance folder, the same bucket
    other = make_app(tmp_path / "other", **s3_settings(s3, bucket))
    browser = other.test_client()
    assert browser.login(customer.email).status_code == 302
    ids = dict(db.session.execute(select(Invoice.number, Invoice.id)).all())
    provided = browser.get(f"/factures/{ids['62274737']}/pdf")
    assert provided.status_code == 200 and provided.data == pdf
    assert provided.headers["ETag"].strip('"') == sha256_of(pdf)
    rendered = browser.get(f"/factures/{ids['62274738']}/pdf")  # made now, kept in the bucket
    assert rendered.status_code == 200 and rendered.mimetype == "application/pdf"
    assert "62274738" in PdfReader(io.BytesIO(rendered.data)).pages[0].extract_text()
    cached = [k for k in objects(s3, bucket) if k.startswith("guichet/invoices/cache/")]
    assert len(cached) == 1 and objects(s3, bucket)[cached[0]] == rendered.data
    first = s3_app.test_client()
    assert first.login(customer.email).status_code == 302
    again = first.get(f"/factures/{ids['62274738']}/pdf")  # the first server: from the bucket
    assert again.data == rendered.data and int(again.headers["Content-Length"]) == len(again.data)
    archive = first.get("/factures/archive.zip?all=1")  # every PDF ready: its size announced
    assert int(archive.headers["Content-Length"]) == len(archive.data)
    members = zipfile.ZipFile(io.BytesIO(archive.data))
    assert sorted(members.namelist()) == ["facture-62274737.pdf", "facture-62274738.pdf"]
    assert members.read("facture-62274737.pdf") == pdf
    assert members.read("facture-62274738.pdf") == rendered.data
    with s3_app.app_context():
        import_invoices(documented_invoices(date.today())[-1:])  # with all a Factur-X needs
        db.session.commit()
    documented = db.session.scalar(select(Invoice.id).where(Invoice.number.not_in(ids)))
    facturx = first.get(f"/factures/{documented}/facturx")
    assert facturx.status_code == 200 and facturx.data.startswith(b"%PDF")
    assert any(k.startswith("guichet/einvoicing/") for k in objects(s3, bucket))
    assert not (tmp_path / "documents").exists() and not (tmp_path / "other" / "documents").exists()


def test_downloads_go_to_a_signed_url_when_asked(tmp_path, s3, bucket, customer):
    signed = make_app(tmp_path, **s3_settings(s3, bucket, STORAGE_SIGNED_URLS=60))
    pdf = one_page_pdf("Facture signée")
    with signed.app_context():
        bearer = token()
    client = signed.test_client()
    assert post_invoice(client, invoice_item("7", pdf=encode_pdf(pdf)), bearer).status_code == 200
    assert client.login(customer.email).status_code == 302
    invoice_id = db.session.scalar(select(Invoice.id))
    answer = client.get(f"/factures/{invoice_id}/pdf")
    assert answer.status_code == 302
    assert answer.location.startswith(f"{s3.url}/{bucket}/guichet/stored/")
    assert "X-Amz-Expires=60" in answer.location and "X-Amz-Signature=" in answer.location
    s3.checking_signatures(False)  # moto answers 500 to a signed URL while it checks them
    try:
        fetched = requests.get(answer.location, timeout=10)
    finally:
        s3.checking_signatures(True)
    assert fetched.status_code == 200 and fetched.content == pdf
    assert fetched.headers["Content-Disposition"] == "inline; filename*=UTF-8''facture-7.pdf"


@pytest.mark.parametrize(
    "fault, reason",
    [
        ({"S3_SECRET_ACCESS_KEY": "wrong"}, "403 access denied: a wrong key"),
        ({"STORAGE_URL": "s3://no-such-bucket/guichet"}, "NoSuchBucket"),
        ({"S3_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot be reached"),
    ],
)
def test_a_store_down_or_refusing_fails_whole_and_says_so(
    tmp_path, s3, bucket, customer, caplog, fault, reason
):
    broken = make_app(tmp_path, **{**s3_settings(s3, bucket), **fault})
    with broken.app_context():
        bearer = token()
    client = broken.test_client()
    pdfs = [invoice_item(str(n), pdf=encode_pdf(one_page_pdf(f"Facture {n}"))) for n in (1, 2)]
    answer = client.post(
        "/api/v1/invoices", json=pdfs, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "The document storage is unavailable."}
    assert count_invoices() == 0  # nothing of the batch
    assert reason in caplog.text  # the store's own reason, in the log
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["storage"] == "down"
    with broken.app_context():
        import_invoices([invoice_item("3")])  # no PDF of its own: rendered on demand
        db.session.commit()
    assert client.login(customer.email).status_code == 302
    download = client.get(f"/factures/{db.session.scalar(select(Invoice.id))}/pdf")
    assert download.status_code == 503  # not a 500
    assert "Le stockage des documents est injoignable" in download.get_data(as_text=True)


def test_a_damaged_document_is_refused_and_logged(tmp_path, s3, bucket, s3_app, customer, caplog):
    pdf = one_page_pdf("Facture intacte")
    with s3_app.app_context():
        bearer = token()
    client = s3_app.test_client()
    assert post_invoice(client, invoice_item("8", pdf=encode_pdf(pdf)), bearer).status_code == 200
    key = next(iter(objects(s3, bucket)))
    damaged = pdf[:-40] + b"%% someone changed the end of this file %%"
    s3.client().put_object(Bucket=bucket, Key=key, Body=damaged)
    assert client.login(customer.email).status_code == 302
    answer = client.get(f"/factures/{db.session.scalar(select(Invoice.id))}/pdf")
    assert answer.status_code == 503 and answer.mimetype == "text/html"
    assert f"does not match its SHA-256 {sha256_of(pdf)}: refused" in caplog.text


def test_storage_migrate_copies_a_folder_and_resumes(tmp_path, s3, bucket):
    local = make_app(tmp_path)
    with local.app_context():
        folder = LocalStorage(local.config["DOCUMENTS_PATH"])
    files = {
        "stored/aa/a.pdf": b"%PDF-1 a",
        "invoices/cache/b.pdf": b"%PDF-1 b",
        "einvoicing/c.xml": b"<Invoice/>",
    }
    for key, data in files.items():
        folder.put(key, data)
    moved = make_app(tmp_path, **s3_settings(s3, bucket))
    # a first run that stopped half-way: one file there already, one there but damaged
    client = s3.client()
    client.put_object(Bucket=bucket, Key="guichet/stored/aa/a.pdf", Body=b"%PDF-1 a")
    client.put_object(Bucket=bucket, Key="guichet/einvoicing/c.xml", Body=b"<Invoice!>")
    result = run_cli(moved, "storage", "migrate")
    assert result.exit_code == 0, result.output
    assert "copied 2, there already 1, failed 0" in result.output
    assert objects(s3, bucket) == {f"guichet/{k}": v for k, v in files.items()}
    again = run_cli(moved, "storage", "migrate")
    assert "copied 0, there already 3, failed 0" in again.output
    refused = run_cli(local, "storage", "migrate")
    assert refused.exit_code != 0 and "STORAGE_URL is not set" in refused.output
    assert Path(local.config["DOCUMENTS_PATH"], "stored/aa/a.pdf").read_bytes() == b"%PDF-1 a"


def test_the_print_shop_exchanges_letters_through_the_bucket(tmp_path, s3, bucket):
    from core.postal import LetterOptions, LetterState, OutgoingLetter
    from plugins.postal.printshop import PrintShop

    shared = make_app(tmp_path, **s3_settings(s3, bucket, POSTAL_EXCHANGE="storage"))
    letter = OutgoingLetter(
        "L-42", one_page_pdf("Lettre"), 1, ("CLIENT 2", "75015 PARIS"), "FR", LetterOptions()
    )
    with shared.app_context():
        shop = PrintShop(shared.config)
        assert shop.submit(letter) == "L-42"
        kept = objects(s3, bucket)
        assert kept["guichet/postal/outbox/L-42.pdf"] == letter.pdf
        assert json.loads(kept["guichet/postal/outbox/L-42.json"])["address"] == list(
            letter.address
        )
        assert shop.state("L-42") is None  # nothing back from the print shop yet
        # the print shop, from its own machine, drops a status file in the inbox
        s3.client().put_object(
            Bucket=bucket,
            Key="guichet/postal/inbox/L-42.json",
            Body=json.dumps({"status": "printed", "detail": "lot 7"}).encode(),
        )
        assert shop.state("L-42") == LetterState("printed", "lot 7")
        assert shop.cancel("L-42") is False  # printed: too late
        assert shop.submit(
            OutgoingLetter("L-43", letter.pdf, 1, letter.address, "FR", LetterOptions())
        )
        assert shop.cancel("L-43") is True
        assert "guichet/postal/outbox/L-43.pdf" not in objects(s3, bucket)
    assert not (tmp_path / "postal").exists()  # no folder on this machine
