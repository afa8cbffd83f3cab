"""The test kit shipped to plugin authors (``core.testing``), used as they use it."""

from core.plugin_api import App, MenuItem, hookimpl


class Greeter:
    """A plugin that exists only for this test."""

    __name__ = "greeter"

    @hookimpl
    def guichet_apps(self):
        return [App(key="greeter", name="Greeter", endpoint="portal.home")]

    @hookimpl
    def guichet_menu_items(self, user, organisation):
        return [MenuItem("greeter", "Help", "Hello from the greeter", "portal.home")]


def test_a_temporary_plugin(register_plugin, customer):
    app = register_plugin(Greeter())
    client = app.test_client()
    client.login(customer.email)
    assert "Hello from the greeter" in client.get("/").get_data(as_text=True)


def test_the_kit_switches_apps_and_speaks_htmx(logged_in, enable_app):
    enable_app("contracts", False)
    assert logged_in.get("/contrats/").status_code == 404
    enable_app("contracts")
    fragment = logged_in.htmx("get", "/contrats/").get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="contract-results"')


def test_the_kit_reads_the_emails_the_app_sends(client, smtp_server, customer, run_jobs):
    answer = client.post("/password/forgot", data={"email": customer.email})
    assert answer.status_code == 302
    assert run_jobs() == 1  # the worker sends it
    (message,) = smtp_server.messages
    assert message["To"] == customer.email
