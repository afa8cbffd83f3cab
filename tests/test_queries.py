"""The shell of a logged-in page issues a bounded number of SQL queries, whatever the
number of apps, accounts, organisations or users."""

import pytest

from core import directory, favourites
from core.extensions import db
from tests.conftest import make_app, make_org, make_user
from tests.sample_plugins import ManyWidgets, Notes

SHELL_QUERY_BUDGET = 3  # user with memberships, enabled apps, favourites
DASHBOARD_QUERY_BUDGET = SHELL_QUERY_BUDGET + 1  # the pins


def queries_for(client, count_queries, path):
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200
    return counter


@pytest.fixture(scope="module")
def busy_app(tmp_path_factory, app):
    return make_app(tmp_path_factory.mktemp("busy"), EXTRA_PLUGINS=[Notes(), ManyWidgets()])


def test_dashboard_query_count_does_not_depend_on_the_number_of_widgets(
    busy_app, user, count_queries
):
    client = busy_app.test_client()
    client.login(user.email)
    membership = user.memberships[0]
    with busy_app.app_context():
        for widget in ("many.w00", "many.w01"):
            favourites.set_pin(membership, widget, True)
        db.session.commit()
    few = queries_for(client, count_queries, "/")
    with busy_app.app_context():
        for n in range(2, 12):
            favourites.set_pin(membership, f"many.w{n:02d}", True)
        db.session.commit()
    many = queries_for(client, count_queries, "/")
    page = client.get("/").get_data(as_text=True)
    # the twelve sample widgets and the built-in ones of the default dashboard
    assert page.count('class="widget"') == 12 + len(favourites.default_dashboard(membership)[1])
    assert len(many) == len(few) <= DASHBOARD_QUERY_BUDGET, "\n".join(many.statements)


def test_query_count_does_not_grow_with_data(busy_app, count_queries):
    org = make_org("Big", codes=[f"{n:08d}" for n in range(40)])
    user = make_user(
        "big@example.com", org, role="member", accounts=[f"{n:08d}" for n in range(20)]
    )
    for n in range(5):
        other = make_org(f"Other {n}", codes=(f"9{n:07d}",))
        directory.set_membership(user, other, "member")
    db.session.commit()
    client = busy_app.test_client()
    client.login(user.email)
    counter = queries_for(client, count_queries, "/")
    assert len(counter) <= DASHBOARD_QUERY_BUDGET, "\n".join(counter.statements)
    counter = queries_for(client, count_queries, "/notes/")
    assert len(counter) <= SHELL_QUERY_BUDGET + 1, "\n".join(counter.statements)


@pytest.mark.parametrize("count_limit", [None, 10_000])
def test_a_list_of_a_whole_table_counts_its_rows(app, count_limit):
    """A select with no condition (an operator's list of every letter) counts its own
    table's rows: its count once lost its FROM and said 1 of an empty table."""
    from sqlalchemy import select

    from core.listing import Listing, page_rows
    from core.models import Organisation

    class Whole(Listing):
        pass

    Whole.count_limit = count_limit
    empty = Whole()
    assert page_rows(empty, select(Organisation), (Organisation.id,)) == []
    assert (empty.total, empty.pages) == (0, 1)
    for n in range(3):
        make_org(f"Org {n}", codes=[f"9000000{n}"])
    three = Whole(size=2)
    assert len(page_rows(three, select(Organisation), (Organisation.id,))) == 2
    assert (three.total, three.pages) == (3, 2)
