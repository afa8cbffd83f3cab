"""The shell of a logged-in page issues a bounded number of SQL queries, whatever the
number of apps, accounts, organisations or users."""

from core import directory
from core.extensions import db
from tests.conftest import make_app, make_org, make_user
from tests.sample_plugins import Notes

SHELL_QUERY_BUDGET = 3


def shell_queries(client, count_queries, path="/"):
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200
    return counter


def test_dashboard_shell_has_a_bounded_query_count(logged_in, count_queries):
    counter = shell_queries(logged_in, count_queries)
    assert len(counter) <= SHELL_QUERY_BUDGET, "\n".join(counter.statements)


def test_query_count_does_not_grow_with_data(tmp_path, count_queries, app):
    busy = make_app(tmp_path, EXTRA_PLUGINS=[Notes()])
    org = make_org("Big", codes=[f"{n:08d}" for n in range(40)])
    user = make_user(
        "big@example.com", org, role="member", accounts=[f"{n:08d}" for n in range(20)]
    )
    for n in range(5):
        other = make_org(f"Other {n}", codes=(f"9{n:07d}",))
        directory.set_membership(user, other, "member")
    db.session.commit()
    client = busy.test_client()
    client.login(user.email)
    counter = shell_queries(client, count_queries)
    assert len(counter) <= SHELL_QUERY_BUDGET, "\n".join(counter.statements)
    counter = shell_queries(client, count_queries, "/notes/")
    assert len(counter) <= SHELL_QUERY_BUDGET + 1, "\n".join(counter.statements)
