import logging

import pytest

from core.activation import app_settings, enabled_app_keys, set_app_enabled
from core.appsystem import PerOrganisationHook, registry
from core.extensions import db
from core.tenancy import Scope
from tests.conftest import make_app, make_org, make_user
from tests.sample_plugins import (
    AdminTool,
    Broken,
    DuplicateNotes,
    FromTheFuture,
    MenuEditor,
    Misspelled,
    Notes,
    Sloppy,
)


@pytest.fixture(scope="module")
def plugin_app(tmp_path_factory, app):
    """A second app, side by side with the first, with test plugins of its own."""
    return make_app(
        tmp_path_factory.mktemp("plugins"), EXTRA_PLUGINS=[Notes(), AdminTool(), Broken()]
    )


@pytest.fixture
def pclient(plugin_app, user):
    client = plugin_app.test_client()
    assert client.login(user.email).status_code == 302
    return client


def test_hook_guichet_apps_of_the_builtins_come_through_the_entry_point_group(app):
    assert registry(app).apps["account"].plugin_name == "account"


def test_apps_of_side_by_side_apps_do_not_leak(app, plugin_app):
    assert "notes" not in registry(app).apps
    assert "notes" in registry(plugin_app).apps
    assert registry(app).pm is not registry(plugin_app).pm


def test_a_misspelled_hook_implementation_refuses_its_plugin_at_start_up(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        started = make_app(tmp_path, EXTRA_PLUGINS=[Misspelled(), Notes()])
    status = registry(started).pm.statuses["misspelled"]
    assert not status.loaded and "implements guichet_menu_item, which is not a Guichet hook" in (
        status.problem
    )
    assert "plugin misspelled refused" in caplog.text
    assert registry(started).pm.get_plugin("misspelled") is None
    assert "notes" in registry(started).apps  # the portal starts with the others


def test_duplicate_app_key_keeps_the_first_and_refuses_the_second_whole(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        dup = make_app(tmp_path, EXTRA_PLUGINS=[Notes(), DuplicateNotes()])
    reg = registry(dup)
    assert reg.apps["notes"].plugin_name == "notes"
    assert "duplicate_notes declares app 'notes', already declared by plugin notes" in caplog.text
    assert "which plugin notes declares already" in reg.pm.statuses["duplicate_notes"].problem
    assert reg.pm.get_plugin("duplicate_notes") is None  # none of its hooks are called
    with dup.app_context():
        results = reg.for_installation().call("guichet_search", query="00", scope=Scope(1))
    assert all(r.title != "from the duplicate" for r in results)


def test_a_plugin_for_another_api_version_is_refused(tmp_path):
    started = make_app(tmp_path, EXTRA_PLUGINS=[FromTheFuture()])
    status = registry(started).pm.statuses["future"]
    assert status.problem == "supports the plugin API >=4.0; this portal offers 3.1"
    assert "future" not in registry(started).apps
    assert registry(started).pm.statuses["account"].api_range == ">=3.0,<4"


def test_a_plugin_that_cannot_be_imported_is_refused(tmp_path, monkeypatch):
    from importlib import metadata

    real = metadata.entry_points

    def with_a_broken_one(**kwargs):
        found = list(real(**kwargs))
        if kwargs.get("group") == "guichet":
            found.append(metadata.EntryPoint("broken_import", "tests.no_such_module", "guichet"))
        return found

    monkeypatch.setattr(metadata, "entry_points", with_a_broken_one)
    started = make_app(tmp_path)
    status = registry(started).pm.statuses["broken_import"]
    assert status.problem.startswith("cannot be imported: ModuleNotFoundError")
    assert "invoices" in registry(started).apps


def test_blocked_plugin_is_not_loaded(tmp_path):
    blocked = make_app(tmp_path, EXTRA_PLUGINS=[Notes()], BLOCKED_PLUGINS=["notes"])
    assert "notes" not in registry(blocked).apps
    assert registry(blocked).pm.statuses["notes"].problem == "blocked by configuration"


def test_operators_see_every_plugin_and_why_one_was_refused(tmp_path, operator):
    started = make_app(tmp_path, EXTRA_PLUGINS=[Notes(), FromTheFuture()])
    client = started.test_client()
    client.login(operator.email)
    page = client.get("/operator/plugins").get_data(as_text=True)
    assert 'id="plugin-invoices"' in page and "guichet_apps" in page and "0.1.0" in page
    assert "Refusé" in page and "this portal offers 3.1" in page
    assert 'id="plugin-notes"' in page


def test_hook_guichet_menu_items_and_routes_of_an_enabled_app_are_served(pclient, org):
    assert pclient.get("/notes/").get_data(as_text=True) == "notes: 00002501,04008041"
    assert "Mes notes" in pclient.get("/").get_data(as_text=True)


def test_disabled_app_disappears_everywhere_and_comes_back(plugin_app, pclient, org):
    with plugin_app.app_context():
        set_app_enabled(org, "notes", False)
        db.session.commit()
    assert pclient.get("/notes/").status_code == 404
    page = pclient.get("/").get_data(as_text=True)
    assert "Mes notes" not in page
    with plugin_app.app_context():
        scope = Scope(org.id)
        assert "notes" not in enabled_app_keys(org.id)
        hooks = registry(plugin_app).for_organisation(org.id)
        results = hooks.call("guichet_search", query="000", scope=scope)
        assert results == []
        set_app_enabled(org, "notes", True)
        db.session.commit()
    assert pclient.get("/notes/").status_code == 200
    assert "Mes notes" in pclient.get("/").get_data(as_text=True)


def test_hooks_of_disabled_apps_are_not_even_called(plugin_app, pclient, org):
    with plugin_app.app_context():
        set_app_enabled(org, "notes", False)
        db.session.commit()
    Notes.calls.clear()
    pclient.get("/")
    assert Notes.calls == []


def test_a_raising_plugin_is_contained_and_logged_with_its_name(pclient, caplog):
    with caplog.at_level(logging.ERROR):
        response = pclient.get("/")
    assert response.status_code == 200
    assert "Mes notes" in response.get_data(as_text=True)  # the others still render
    assert "plugin broken failed in guichet_menu_items" in caplog.text


def test_a_per_organisation_hook_called_for_no_organisation_raises(plugin_app, org):
    with plugin_app.test_request_context(), pytest.raises(PerOrganisationHook) as refused:
        registry(plugin_app).call("guichet_search", query="0000", scope=Scope(org.id))
    assert "use registry.for_organisation(membership).call('guichet_search'" in str(refused.value)


def test_hook_guichet_search_reaches_enabled_plugins_within_the_scope(plugin_app, org):
    other = make_org("Client 2", codes=("00009999",))
    with plugin_app.test_request_context():
        hooks = registry(plugin_app).for_organisation(org.id)
        results = hooks.call("guichet_search", query="0000", scope=Scope(org.id))
    assert [r.title for r in results] == ["00002501"]
    assert other.id != org.id


def test_admin_only_app_is_hidden_from_members(plugin_app, org, user):
    with plugin_app.app_context():
        set_app_enabled(org, "admintool", True)
        db.session.commit()
    make_user("member@client1.example.com", org, role="member")
    admin_client = plugin_app.test_client()
    assert admin_client.login(user.email).status_code == 302
    member_client = plugin_app.test_client()
    assert member_client.login("member@client1.example.com").status_code == 302
    assert admin_client.get("/admintool/").status_code == 200
    assert member_client.get("/admintool/").status_code == 404


def test_app_off_by_default_needs_an_operator(pclient):
    assert pclient.get("/admintool/").status_code == 404


def test_anonymous_request_to_a_plugin_route_goes_to_login(plugin_app):
    response = plugin_app.test_client().get("/notes/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.fixture
def user(org):
    return make_user("camille@client1.example.com", org, role="admin")


def test_what_a_hook_does_not_declare_is_refused_with_a_message(tmp_path, user, caplog):
    started = make_app(tmp_path, EXTRA_PLUGINS=[Notes(), Sloppy()], TRACE_PLUGINS=True)
    widgets = registry(started).widgets
    assert "sloppy.ok" in widgets and "sloppy.w" not in widgets
    assert (
        "plugin sloppy: app 'sloppy' declares {'key': 'sloppy.w', 'app_key': 'sloppy'} among "
        "its widgets, not a Widget; ignored" in caplog.text
    )
    client = started.test_client()
    client.login(user.email)
    with caplog.at_level(logging.INFO, logger="core.appsystem"):
        page = client.get("/").get_data(as_text=True)
    assert ">Sloppy</a>" in page and "Mes brouillons" not in page
    assert "returned 'Mes brouillons' from guichet_menu_items, not a MenuItem" in caplog.text
    # GUICHET_TRACE_PLUGINS: every call is logged with the plugins it reached
    assert "hook guichet_menu_items(user, organisation) -> " in caplog.text
    assert "sloppy" in caplog.text.split("hook guichet_menu_items(user, organisation) -> ")[1]


def test_a_pluggy_wrapper_sees_and_changes_what_the_others_return(tmp_path, user):
    started = make_app(tmp_path, EXTRA_PLUGINS=[Notes(), MenuEditor()])
    client = started.test_client()
    client.login(user.email)
    page = client.get("/").get_data(as_text=True)
    assert "Mes notes" not in page and "Vos factures" in page
    plain = make_app(tmp_path / "plain", EXTRA_PLUGINS=[Notes()])
    client = plain.test_client()
    client.login(user.email)
    assert "Mes notes" in client.get("/").get_data(as_text=True)


def test_an_apps_settings_page_is_the_cores_for_the_organisations_admins(
    app, logged_in, org, enable_app
):
    """``App.settings_form``: the core's page shows the organisation's settings in the
    app's form and saves them, for its admins only (the example app's)."""
    enable_app("tickets")
    page = logged_in.get("/applications/tickets/reglages").get_data(as_text=True)
    assert "Réglages de Mes demandes" in page and 'name="categories"' in page
    saved = logged_in.post(
        "/applications/tickets/reglages", data={"categories": "Facturation\n\n Technique "}
    )
    assert saved.status_code == 303
    assert app_settings(org.id, "tickets") == {
        "categories": ["Facturation", "Technique"],
        "members_see_all": False,
    }
    assert "Facturation\nTechnique" in logged_in.get("/applications/tickets/reglages").get_data(
        as_text=True
    )
    too_many = "\n".join(f"Catégorie {n}" for n in range(2001))
    refused = logged_in.post("/applications/tickets/reglages", data={"categories": too_many})
    assert refused.status_code == 422  # the form's own rule, with its message; nothing saved
    assert len(app_settings(org.id, "tickets")["categories"]) == 2
    forged = logged_in.post("/applications/tickets/reglages", data={}, csrf=False)
    assert forged.status_code == 400 and len(app_settings(org.id, "tickets")["categories"]) == 2
    member = make_user("member@client1.example.com", org, role="member")
    other = app.test_client()
    other.login(member.email)
    assert other.get("/applications/tickets/reglages").status_code == 404
    assert logged_in.get("/applications/invoices/reglages").status_code == 404  # no form
    enable_app("tickets", False)
    assert logged_in.get("/applications/tickets/reglages").status_code == 404
