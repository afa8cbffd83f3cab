"""Each process keeps an organisation's enabled apps and a member's favourites until
their stamps change (core.stamps): pages stop reading those tables, and a change made
anywhere, by any process, reaches the next page."""

from sqlalchemy import delete, update

from core import stamps
from core.activation import set_app_enabled
from core.extensions import db
from core.models import AppActivation, Favourite
from core.testing import PASSWORD, make_app, migrate


def statements_of(client, count_queries, path: str) -> list[str]:
    with count_queries() as counter:
        assert client.get(path).status_code == 200
    return counter.statements


def test_a_page_reads_neither_the_app_switches_nor_the_favourites_once_known(
    logged_in, count_queries
):
    logged_in.get("/")  # the process learns them
    read = " ".join(statements_of(logged_in, count_queries, "/factures/")).lower()
    assert "from app_activations" not in read and "from favourites" not in read
    assert "memberships_1.favourites_stamp" in read  # with the user, as on every page
    assert "organisations_1.apps_stamp" in read


def test_a_switch_made_by_another_process_reaches_its_next_page(app, org, customer, tmp_path):
    other = migrate(make_app(tmp_path))  # another process: its own app and cache
    browser = other.test_client()
    assert browser.login(customer.email, PASSWORD).status_code == 302
    assert browser.get("/factures/").status_code == 200
    with app.test_request_context():
        set_app_enabled(org, "invoices", False)
        db.session.commit()
    assert browser.get("/factures/").status_code == 404
    assert "/factures/" not in browser.get("/").get_data(as_text=True)


def test_a_favourite_added_shows_in_the_bar_of_the_same_answer_and_of_the_next_page(
    logged_in, customer
):
    db.session.execute(delete(Favourite).where(Favourite.user_id == customer.id))
    stamps.favourites_changed([(customer.id, customer.memberships[0].organisation_id)])
    db.session.commit()
    assert 'href="/factures/"' not in bar(logged_in.get("/").get_data(as_text=True))
    answer = logged_in.htmx("POST", "/favourites/invoices", data={"enabled": "1"})
    assert 'href="/factures/"' in bar(answer.get_data(as_text=True))
    assert 'href="/factures/"' in bar(logged_in.get("/").get_data(as_text=True))


def test_a_bulk_update_reaches_the_pages_through_apps_changed(logged_in, org):
    assert logged_in.get("/factures/").status_code == 200
    db.session.execute(
        update(AppActivation)
        .where(AppActivation.organisation_id == org.id, AppActivation.app_key == "invoices")
        .values(enabled=False)
    )
    stamps.apps_changed([org.id])
    db.session.commit()
    assert logged_in.get("/factures/").status_code == 404


def bar(page: str) -> str:
    """The favourites bar of ``page``."""
    start = page.index('id="favourites-bar"')
    return page[start : page.index("</nav>", start)]
