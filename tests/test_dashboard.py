import logging

import pytest
from sqlalchemy import select

from core import directory
from core.activation import set_app_enabled
from core.extensions import db
from core.models import Favourite, Pin, User
from tests.conftest import make_app, make_user
from tests.sample_plugins import ManyWidgets, Notes


@pytest.fixture(scope="module")
def dash_app(tmp_path_factory, app):
    return make_app(tmp_path_factory.mktemp("dash"), EXTRA_PLUGINS=[Notes(), ManyWidgets()])


def member_of(dash_app, org, email, role="member"):
    """A user created where the sample apps are installed, so that its default
    dashboard holds them; returned in the test's own session."""
    with dash_app.app_context():
        user_id = make_user(email, org, role=role).id
    return db.session.get(User, user_id)


@pytest.fixture
def user(dash_app, org):
    """A customer admin whose dashboard starts with three favourites and one widget."""
    org.dashboard_defaults = {"favourites": ["many", "account", "notes"], "pins": ["many.w00"]}
    db.session.commit()
    return member_of(dash_app, org, "camille@client1.example.com", role="admin")


@pytest.fixture
def dash(dash_app, user):
    client = dash_app.test_client()
    assert client.login(user.email).status_code == 302
    return client


def pins(user) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Pin.widget_key).where(Pin.user_id == user.id).order_by(Pin.position)
        )
    )


def favourite_keys(user) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Favourite.app_key)
            .where(Favourite.user_id == user.id)
            .order_by(Favourite.position)
        )
    )


def switch(client, url, enabled):
    return client.htmx("POST", url, data={"enabled": "1" if enabled else "0"})


def test_a_new_member_starts_with_a_sensible_default_dashboard(dash_app, org):
    assert org.dashboard_defaults is None
    newcomer = member_of(dash_app, org, "new@client1.example.com")
    # by name: Courrier postal, Many, Mon compte, Notes, Paiements en ligne (then Vos
    # consommations ...); the first widget of each app that has one
    assert favourite_keys(newcomer) == ["postal", "many", "account", "notes", "payments"]
    assert pins(newcomer) == [
        "postal.progress",
        "many.w00",
        "account.summary",
        "consumption.glance",
    ]


def test_the_operators_default_dashboard_applies_to_new_members(dash_app, org, operator):
    ops = dash_app.test_client()
    ops.login(operator.email)
    response = ops.post(
        f"/operator/organisations/{org.id}/dashboard",
        data={"favourite": ["notes"], "pin": ["many.w03", "many.w01"]},
    )
    assert response.status_code == 302
    newcomer = member_of(dash_app, org, "new@client1.example.com")
    assert favourite_keys(newcomer) == ["notes"]
    assert pins(newcomer) == ["many.w03", "many.w01"]


def test_unknown_keys_in_the_default_dashboard_are_refused(dash_app, org, operator):
    ops = dash_app.test_client()
    ops.login(operator.email)
    response = ops.post(f"/operator/organisations/{org.id}/dashboard", data={"pin": ["nope.x"]})
    assert response.status_code == 400
    assert "nope.x" in response.get_data(as_text=True)
    db.session.refresh(org)
    assert org.dashboard_defaults is None


def test_dashboard_lists_pinned_widgets_lazily_in_the_users_order(dash, user):
    page = dash.get("/").get_data(as_text=True)
    assert 'hx-get="/widgets/many.w00" hx-trigger="load"' in page
    assert "widget content" not in page  # the content comes in its own request
    assert '<a href="/many/" title="Ouvrir Many">Widget 00</a>' in page  # a link to its app
    body = dash.htmx("GET", "/widgets/many.w00").get_data(as_text=True)
    assert body == "<p>widget content</p>"


def test_favourite_switch_answers_with_the_switch_and_the_bar_out_of_band(dash, user):
    response = switch(dash, "/favourites/many", False)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="enabled" value="1"' in body  # the switch, now off
    assert 'id="favourites-bar"' in body and 'hx-swap-oob="true"' in body
    assert ">Many<" not in body.split('id="favourites-bar"')[1]
    assert "many" not in favourite_keys(user)
    response = switch(dash, "/favourites/many", True)
    assert ">Many<" in response.get_data(as_text=True).split('id="favourites-bar"')[1]
    assert favourite_keys(user)[-1] == "many"


def test_switches_work_as_plain_form_posts(dash, user):
    response = dash.post("/favourites/many", data={"enabled": "0", "next": "/favourites"})
    assert response.status_code == 302 and response.headers["Location"] == "/favourites"
    assert "many" not in favourite_keys(user)


@pytest.mark.parametrize(
    ("url", "enabled", "status", "message"),
    [
        ("/favourites/many", True, 409, "déjà dans vos favoris"),
        ("/favourites/nope", True, 404, "Application inconnue"),
        ("/pins/many.w00", True, 409, "déjà sur votre tableau de bord"),
        ("/pins/many.w05", False, 409, "pas sur votre tableau de bord"),
        ("/pins/nope.w00", True, 404, "Widget inconnu"),
    ],
)
def test_refused_switches_change_nothing(dash, user, url, enabled, status, message):
    before = (favourite_keys(user), pins(user))
    response = switch(dash, url, enabled)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert (favourite_keys(user), pins(user)) == before


def test_pin_and_unpin(dash, user):
    assert switch(dash, "/pins/many.w05", True).status_code == 200
    assert pins(user) == ["many.w00", "many.w05"]
    assert switch(dash, "/pins/many.w00", False).status_code == 200
    assert pins(user) == ["many.w05"]


def test_reorder_by_drag_and_drop(dash, user):
    switch(dash, "/pins/many.w01", True)
    switch(dash, "/pins/many.w02", True)
    response = dash.htmx(
        "POST", "/pins/order", data={"widget": ["many.w02", "many.w00", "many.w01"]}
    )
    assert response.status_code == 204
    assert pins(user) == ["many.w02", "many.w00", "many.w01"]


@pytest.mark.parametrize(
    "order",
    [
        ["many.w02", "many.w00"],  # one missing
        ["many.w02", "many.w00", "many.w01", "many.w07"],  # one not pinned
        ["many.w02", "many.w00", "many.w00"],  # twice
        ["many.w02", "many.w00", "admin.secret"],  # foreign
    ],
)
def test_reorder_naming_foreign_or_missing_pins_is_refused(dash, user, order):
    switch(dash, "/pins/many.w01", True)
    switch(dash, "/pins/many.w02", True)
    response = dash.htmx("POST", "/pins/order", data={"widget": order})
    assert response.status_code == 400
    assert pins(user) == ["many.w00", "many.w01", "many.w02"]


def test_keyboard_moves(dash, user):
    switch(dash, "/pins/many.w01", True)
    assert (
        dash.htmx("POST", "/pins/many.w01/move", data={"direction": "earlier"}).status_code == 204
    )
    assert pins(user) == ["many.w01", "many.w00"]
    dash.htmx("POST", "/pins/many.w01/move", data={"direction": "earlier"})  # already first
    assert pins(user) == ["many.w01", "many.w00"]
    assert dash.post("/pins/many.w01/move", data={"direction": "later"}).status_code == 302
    assert pins(user) == ["many.w00", "many.w01"]
    assert dash.htmx("POST", "/pins/many.w01/move", data={"direction": "up"}).status_code == 400
    assert dash.htmx("POST", "/pins/many.w09/move", data={"direction": "later"}).status_code == 404


def test_a_raising_widget_shows_unavailable_with_retry_and_is_logged(dash, caplog):
    ManyWidgets.fail.add("raise")
    try:
        with caplog.at_level(logging.ERROR):
            response = dash.htmx("GET", "/widgets/many.w00")
    finally:
        ManyWidgets.fail.clear()
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "indisponible" in body and 'hx-get="/widgets/many.w00"' in body
    assert "plugin many failed in widget many.w00" in caplog.text
    assert dash.get("/").status_code == 200


def test_disabled_app_vanishes_from_dashboard_favourites_and_comes_back(dash_app, dash, user, org):
    with dash_app.app_context():
        set_app_enabled(org, "many", False)
        db.session.commit()
    page = dash.get("/").get_data(as_text=True)
    assert "many.w00" not in page and ">Many<" not in page
    assert dash.htmx("GET", "/widgets/many.w00").status_code == 404
    assert switch(dash, "/pins/many.w01", True).status_code == 404
    assert pins(user) == ["many.w00"]  # the data is kept
    gone = dash.get("/many/")  # a link to it in a page loaded before: the user is told
    assert gone.status_code == 404
    assert "«\xa0Many\xa0» n’est pas disponible pour Client 1" in gone.get_data(as_text=True)
    boosted = dash.htmx("GET", "/many/", headers={"HX-Boosted": "true"})  # a whole page
    assert boosted.status_code == 404 and "<html" in boosted.get_data(as_text=True)
    with dash_app.app_context():
        set_app_enabled(org, "many", True)
        db.session.commit()
    page = dash.get("/").get_data(as_text=True)
    assert "many.w00" in page and ">Many<" in page


def test_empty_dashboard_tells_what_to_do(dash, user):
    switch(dash, "/pins/many.w00", False)
    page = dash.get("/").get_data(as_text=True)
    assert "Votre tableau de bord est vide" in page
    assert 'href="/favourites"' in page


def test_manage_favourites_lists_every_usable_app_with_its_switches(dash):
    page = dash.get("/favourites").get_data(as_text=True)
    assert "Twelve widgets" in page
    assert 'action="/favourites/many"' in page and 'action="/pins/many.w11"' in page
    assert 'aria-label="Épingler Widget 11"' in page


def test_search_groups_results_by_app_within_the_scope(dash, org):
    body = dash.htmx("GET", "/search?q=0000").get_data(as_text=True)
    assert "<h2>Notes</h2>" in body and "00002501" in body
    assert "<html" not in body
    assert "au moins deux" in dash.htmx("GET", "/search?q=0").get_data(as_text=True)
    assert "Aucun résultat" in dash.htmx("GET", "/search?q=zzz").get_data(as_text=True)
    first = next(a for a in org.accounts if a.client_code == "04008041")
    dash.post("/scope", data={"account": [str(first.id)]})
    assert "00002501" not in dash.htmx("GET", "/search?q=0000").get_data(as_text=True)
    assert "04008041" in dash.htmx("GET", "/search?q=0400").get_data(as_text=True)


def test_search_page_works_without_javascript(dash):
    page = dash.get("/search?q=0000").get_data(as_text=True)
    assert "<html" in page and "00002501" in page


def test_search_skips_disabled_apps(dash_app, dash, org):
    assert "<h2>Notes</h2>" in dash.htmx("GET", "/search?q=0000").get_data(as_text=True)
    with dash_app.app_context():
        set_app_enabled(org, "notes", False)
        db.session.commit()
    assert "<h2>Notes</h2>" not in dash.htmx("GET", "/search?q=0000").get_data(as_text=True)


def test_favourites_are_per_organisation(dash_app, dash, user, org):
    from tests.conftest import make_org

    other = make_org("Client 2", codes=())
    with dash_app.app_context():
        directory.set_membership(
            db.session.get(User, user.id), db.session.get(type(other), other.id), "member"
        )
        db.session.commit()
    dash.post(f"/organisations/{other.id}/switch")
    switch(dash, "/favourites/notes", False)
    dash.post(f"/organisations/{org.id}/switch")
    bar = dash.get("/").get_data(as_text=True).split('id="favourites-bar"')[1]
    assert ">Notes<" in bar
    in_other = db.session.scalars(
        select(Favourite.app_key).where(Favourite.organisation_id == other.id)
    ).all()
    assert "notes" not in in_other and in_other  # only Client 2's favourites changed
