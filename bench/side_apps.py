"""The two WSGI apps ``bench.side_by_side`` serves under gunicorn over the same rows:
the portal (``portal``) and the floor (``bare``), a bare Flask app reading the same
SQLite file with ``sqlite3`` and writing the same answers with no framework of ours: the
invoice list with its filters, total and pages, the widget's "latest and still to pay",
the French CSV export and a stored PDF. Both read ``GUICHET_BENCH_DIR`` (and the portal
``GUICHET_BENCH_DATABASE_URL``)."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from datetime import date, timedelta

from flask import Flask, Response, g, render_template_string, request, send_file

BENCH_DIR = os.environ.get("GUICHET_BENCH_DIR", "/tmp/guichet-side")
HISTORY_DAYS = 730  # the portal's default INVOICES_HISTORY_DAYS
PAGE_SIZE = 25
ORGANISATION = 1  # the big organisation of bench.invoices.populate

PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Factures</title>
</head><body><h1>Vos factures</h1><p>{{ total }} factures</p><table>
<tr><th>Date</th><th>Numéro</th><th>Compte</th><th>HT</th><th>TTC</th><th>Statut</th></tr>
{% for r in rows %}<tr><td>{{ r[2] }}</td><td><a href="/factures/{{ r[0] }}">{{ r[1] }}</a></td>
<td>{{ r[7] }}</td><td>{{ "%.2f"|format(r[3] / 100) }} €</td>
<td>{{ "%.2f"|format(r[4] / 100) }} €</td><td>{{ r[5] }}</td></tr>{% endfor %}</table>
<nav>page {{ page }} / {{ pages }}</nav></body></html>"""
WIDGET = """<ul>{% for r in latest %}<li>{{ r[1] }} · {{ r[0] }}</li>{% endfor %}</ul>
{% for currency, amount in to_pay %}<p>{{ "%.2f"|format(amount / 100) }} {{ currency }}</p>
{% endfor %}"""


def make_portal() -> Flask:
    from bench.common import bench_config
    from core import create_app

    url = os.environ.get("GUICHET_BENCH_DATABASE_URL")
    # plain HTTP on loopback: the client must send the session cookie back
    return create_app(bench_config(BENCH_DIR, url, SESSION_COOKIE_SECURE=False))


def make_bare() -> Flask:
    bare = Flask(__name__)

    def connection() -> sqlite3.Connection:
        if "db" not in g:
            g.db = sqlite3.connect(f"{BENCH_DIR}/bench.db")
        return g.db

    def where() -> tuple[str, list]:
        """The list's filters, as the portal reads them (dates, amounts incl. VAT)."""
        start = date.today() - timedelta(days=HISTORY_DAYS)
        clauses, params = ["organisation_id = ?", "issued_on >= ?"], [ORGANISATION, str(start)]
        for name, clause in (("date_from", "issued_on >= ?"), ("date_to", "issued_on <= ?")):
            if request.args.get(name):
                clauses.append(clause)
                params.append(request.args[name])
        for name, clause in (("ttc_min", "total_ttc >= ?"), ("ttc_max", "total_ttc <= ?")):
            if request.args.get(name):
                clauses.append(clause)
                params.append(round(float(request.args[name]) * 100))
        return " AND ".join(clauses), params

    @bare.get("/factures/")
    def listing():
        clauses, params = where()
        page = int(request.args.get("page", 1))
        total = connection().execute(f"SELECT count(*) FROM invoices WHERE {clauses}", params)
        total = total.fetchone()[0]
        rows = (
            connection()
            .execute(
                "SELECT i.id, i.number, i.issued_on, i.total_ht, i.total_ttc, i.status, i.due_on,"
                " a.client_code FROM invoices i JOIN accounts a ON a.id = i.account_id"
                f" WHERE {clauses.replace('organisation_id', 'i.organisation_id')}"
                " ORDER BY i.issued_on DESC, i.id DESC LIMIT ? OFFSET ?",
                [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
            )
            .fetchall()
        )
        pages = max(1, -(-total // PAGE_SIZE))
        return render_template_string(PAGE, rows=rows, total=total, page=page, pages=pages)

    @bare.get("/factures/widget")
    def widget():
        clauses, params = where()
        latest = (
            connection()
            .execute(
                f"SELECT number, issued_on FROM invoices WHERE {clauses}"
                " ORDER BY issued_on DESC, id DESC LIMIT 5",
                params,
            )
            .fetchall()
        )
        to_pay = (
            connection()
            .execute(
                f"SELECT currency, sum(total_ttc + credited) FROM invoices WHERE {clauses}"
                " AND status = 'to_pay' AND total_ttc + credited > 0 GROUP BY currency",
                params,
            )
            .fetchall()
        )
        return render_template_string(WIDGET, latest=latest, to_pay=to_pay)

    @bare.get("/factures/export.csv")
    def export():
        clauses, params = where()
        cursor = sqlite3.connect(f"{BENCH_DIR}/bench.db").execute(
            "SELECT i.kind, i.issued_on, i.number, i.total_ht, i.total_ttc, i.currency,"
            " i.subscriber, a.client_code, i.status, i.due_on, i.cancels"
            " FROM invoices i JOIN accounts a ON a.id = i.account_id"
            f" WHERE {clauses.replace('organisation_id', 'i.organisation_id')}"
            " ORDER BY i.issued_on DESC, i.id DESC",
            params,
        )

        def french(cents: int) -> str:
            return f"{cents // 100},{cents % 100:02d}" if cents >= 0 else f"-{french(-cents)}"

        def day(iso: str | None) -> str:
            return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso else ""

        def body():
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";")
            buffer.write(
                "\ufeffType;Date;Numéro;HT;TTC;Devise;Abonné;Code;Statut;Échéance;Annule\n"
            )
            while rows := cursor.fetchmany(1000):
                writer.writerows(
                    (k, day(d), n, french(ht), french(ttc), c, s, code, st, day(due), x)
                    for k, d, n, ht, ttc, c, s, code, st, due, x in rows
                )
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

        return Response(body(), mimetype="text/csv")

    @bare.get("/factures/<int:invoice_id>/pdf")
    def pdf(invoice_id: int):
        return send_file(f"{BENCH_DIR}/side.pdf", mimetype="application/pdf")

    @bare.teardown_appcontext
    def close(_error):
        if "db" in g:
            g.db.close()

    return bare


portal = make_portal() if os.environ.get("GUICHET_BENCH_APP") == "portal" else None
bare = make_bare() if os.environ.get("GUICHET_BENCH_APP") == "bare" else None
