"""Tests of the example app, written with the fixtures Guichet ships (core.testing):
``app``, ``client``, ``organisation``, ``customer``, ``member``, ``operator``,
``logged_in``, ``enable_app``, ``run_jobs``, ``smtp_server``, ``count_queries``."""

from __future__ import annotations

import pytest
from guichet_tickets.models import Ticket, TicketMessage
from sqlalchemy import func, select

from core.plugin_api import app_settings, db
from core.testing import check_migrations, make_org, make_user, routes_answer_404


@pytest.fixture(autouse=True)
def tickets_on(enable_app):
    """The app is off by default: switch it on for "Client 1", as an operator would."""
    enable_app("tickets")


def open_ticket(client, subject="Facture 62274737 en double", body="Bonjour, ...", **extra):
    return client.post("/demandes/new", data={"subject": subject, "body": body, **extra})


def test_migrations_match_the_models(app):
    check_migrations("tickets")


def test_a_customer_opens_a_request_and_finds_it_in_the_list(logged_in, organisation):
    response = open_ticket(logged_in)
    assert response.status_code == 303
    ticket = db.session.scalar(select(Ticket))
    assert response.headers["Location"] == f"/demandes/{ticket.id}"
    assert ticket.organisation_id == organisation.id and ticket.status == "open"
    assert [m.body for m in ticket.messages] == ["Bonjour, ..."]
    page = logged_in.get("/demandes/").get_data(as_text=True)
    assert "Facture 62274737 en double" in page and f"#{ticket.id}" in page
    assert "1 résultat<" in page  # French by default
    # the customer's activity trail says it, in the app's words (App.activity)
    trail = logged_in.get("/activite/?kind=apps").get_data(as_text=True)
    assert "Demande envoyée" in trail and f"#{ticket.id} Facture 62274737" in trail


def test_the_list_is_filtered_by_status_in_place_with_htmx(logged_in):
    open_ticket(logged_in, subject="Première")
    open_ticket(logged_in, subject="Seconde")
    first = db.session.scalar(select(Ticket).where(Ticket.subject == "Première"))
    logged_in.post(f"/demandes/{first.id}/close")
    fragment = logged_in.htmx("get", "/demandes/?status=closed").get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="ticket-results"')  # the table only
    assert "Première" in fragment and "Seconde" not in fragment


def test_a_request_without_subject_is_refused_with_a_message_and_nothing_stored(logged_in):
    response = open_ticket(logged_in, subject="  ", body="")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in page and 'id="subject-error"' in page
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_an_operator_answers_and_the_customer_gets_one_email(
    app, logged_in, operator, customer, smtp_server, run_jobs
):
    open_ticket(logged_in)
    ticket = db.session.scalar(select(Ticket))
    desk = app.test_client()
    desk.login(operator.email)
    assert "Facture 62274737 en double" in desk.get("/operator/demandes/").get_data(as_text=True)
    answer = desk.post(f"/operator/demandes/{ticket.id}/reply", data={"body": "C'est corrigé."})
    assert answer.status_code == 303
    assert run_jobs() == 1
    (message,) = smtp_server.messages
    assert message["To"] == customer.email
    # a long subject is folded; unfolded, it starts with the space that followed "Subject:"
    subject = message["Subject"].strip()
    assert subject == f"Réponse à votre demande n° {ticket.id} : Facture 62274737 en double"
    text = message.get_content()
    assert "C'est corrigé." in text and f"/demandes/{ticket.id}" in text
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "answered"
    page = logged_in.get(f"/demandes/{ticket.id}").get_data(as_text=True)
    assert "C&#39;est corrigé." in page


def test_the_reply_email_is_sent_once_even_if_the_task_runs_twice(
    app, logged_in, operator, smtp_server, run_jobs
):
    from guichet_tickets.mail import notify_reply

    open_ticket(logged_in)
    ticket = db.session.scalar(select(Ticket))
    desk = app.test_client()
    desk.login(operator.email)
    desk.post(f"/operator/demandes/{ticket.id}/reply", data={"body": "Réponse"})
    message_id = db.session.scalar(select(TicketMessage.id).where(TicketMessage.from_operator))
    notify_reply(message_id)  # a duplicate in the queue
    assert run_jobs() == 2
    assert len(smtp_server.messages) == 1


def test_a_refused_email_is_tried_again_and_then_sent(
    app, logged_in, operator, smtp_server, run_jobs
):
    open_ticket(logged_in)
    ticket = db.session.scalar(select(Ticket))
    desk = app.test_client()
    desk.login(operator.email)
    smtp_server.refuse_next = 1  # 451: try again later
    desk.post(f"/operator/demandes/{ticket.id}/reply", data={"body": "Réponse"})
    run_jobs()
    assert len(smtp_server.messages) == 1


def test_a_closed_request_takes_no_reply(logged_in):
    open_ticket(logged_in)
    ticket = db.session.scalar(select(Ticket))
    logged_in.post(f"/demandes/{ticket.id}/close")
    response = logged_in.post(f"/demandes/{ticket.id}/reply", data={"body": "Encore moi"})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 1


def test_members_see_only_their_requests_unless_the_organisation_allows_more(
    app, logged_in, member
):
    open_ticket(logged_in, subject="Demande de l'admin")
    other = app.test_client()
    other.login(member.email)
    admins = db.session.scalar(select(Ticket))
    assert "Demande de l" not in other.get("/demandes/").get_data(as_text=True)
    assert other.get(f"/demandes/{admins.id}").status_code == 404
    assert other.get("/applications/tickets/reglages").status_code == 404  # admins only
    response = logged_in.post("/applications/tickets/reglages", data={"members_see_all": "y"})
    assert response.status_code == 303
    assert other.get(f"/demandes/{admins.id}").status_code == 200


def test_categories_are_a_setting_of_each_organisation(app, logged_in, organisation):
    logged_in.post(
        "/applications/tickets/reglages",
        data={"categories": "Facturation\nTechnique\n\nFacturation"},
    )
    assert app_settings(organisation.id, "tickets")["categories"] == ["Facturation", "Technique"]
    assert 'value="Technique"' in logged_in.get("/demandes/new").get_data(as_text=True)
    open_ticket(logged_in, category="Technique")
    assert db.session.scalar(select(Ticket.category)) == "Technique"
    refused = open_ticket(logged_in, category="Inventée")
    assert refused.status_code == 422
    other = make_org("Client 2", codes=("00009999",))
    assert app_settings(other.id, "tickets")["categories"] == []


def test_the_app_switched_off_disappears_and_its_data_comes_back(logged_in, enable_app):
    open_ticket(logged_in)
    enable_app("tickets", False)
    assert logged_in.get("/demandes/").status_code == 404
    assert "/demandes/" not in logged_in.get("/").get_data(as_text=True)  # menu entry gone
    enable_app("tickets")
    assert "Facture 62274737" in logged_in.get("/demandes/").get_data(as_text=True)


def test_search_and_widget_show_the_requests(logged_in):
    open_ticket(logged_in)
    ticket = db.session.scalar(select(Ticket))
    results = logged_in.get("/search?q=62274737").get_data(as_text=True)
    assert f"/demandes/{ticket.id}" in results
    assert f"/demandes/{ticket.id}" in logged_in.get(f"/search?q=%23{ticket.id}").get_data(
        as_text=True
    )
    widget = logged_in.get("/widgets/tickets.open").get_data(as_text=True)
    assert "Facture 62274737 en double" in widget


def test_the_desk_is_for_operators_only(app, logged_in, operator):
    assert logged_in.get("/operator/demandes/").status_code == 404
    desk = app.test_client()
    assert desk.get("/operator/demandes/").status_code == 302  # to the login page
    desk.login(operator.email)
    menu = desk.get("/operator/organisations").get_data(as_text=True)
    assert 'href="/operator/demandes/"' in menu


def test_every_route_answers_404_with_another_organisations_request(app, logged_in, enable_app):
    other = make_org("Client 2", codes=("00009999",))
    enable_app("tickets", organisation=other)
    someone = make_user("someone@client2.example.com", other, role="admin")
    theirs = app.test_client()
    theirs.login(someone.email)
    open_ticket(theirs, subject="Secret")
    foreign = {"ticket_id": db.session.scalar(select(Ticket.id))}
    checked = routes_answer_404(app, logged_in, foreign, only=lambda e: e.startswith("tickets"))
    assert ("GET", "tickets.detail") in checked and ("POST", "tickets_desk.reply") in checked
    assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 1


def test_the_list_costs_a_bounded_number_of_queries(logged_in, count_queries):
    for n in range(3):
        open_ticket(logged_in, subject=f"Demande {n}")
    logged_in.get("/demandes/")
    with count_queries() as few:
        logged_in.get("/demandes/")
    for n in range(20):
        open_ticket(logged_in, subject=f"Encore {n}")
    with count_queries() as many:
        logged_in.get("/demandes/")
    assert len(many) == len(few)
