"""The URL state every list shares (quick search, sort, direction, page, page size) and
its paging: a bad value is set aside with a message, never an error, and a page past
the end shows the last one. Apps subclass :class:`Listing` for their own filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask import abort, current_app, request, url_for
from sqlalchemy import ColumnElement, Select, func, inspect, literal, literal_column, select

from core.appinfo import ListFilter
from core.appsystem import registry
from core.extensions import db
from core.favourites import app_usable
from core.i18n import gettext as _

PAGE_SIZES = (10, 25, 50, 100)
DEFERRED_OFFSET = 1000  # rows skipped from which a page is found by its keys first
#: How far a list that may hold millions of rows counts (its ``count_limit``) before it
#: says "more than 10,000 results", with a link to the exact count.
COUNT_LIMIT = 10_000


@dataclass
class Listing:
    q: str = ""
    sort: str = ""
    descending: bool = False
    page: int = 1
    size: int = 25
    total: int = 0
    pages: int = 1
    messages: list[str] = field(default_factory=list)
    #: the rows go on past ``total``: it is ``count_limit``, not the count
    more: bool = False
    #: ``?count=exact`` asked for the exact count, however far it goes
    exact: bool = False
    #: the rows :func:`page_rows` returned for this page
    rows_on_page: int = 0
    #: the filters other apps add to this list, and their values (:func:`read_added`)
    added_filters: list[ListFilter] = field(default_factory=list, repr=False)
    added: dict[str, str] = field(default_factory=dict)
    #: a list that may hold millions of rows counts this far (``COUNT_LIMIT``), then
    #: shows "more than …" with a link to the exact count: a count of a broad filter
    #: grows with the rows it counts. None: always the exact count.
    count_limit: ClassVar[int | None] = None

    def own_args(self) -> dict[str, str]:
        """A subclass's own URL arguments (its filters)."""
        return {}

    def args(self, **changes: Any) -> dict[str, str]:
        """The URL arguments of this list (for links), with ``changes`` applied."""
        values = {
            "q": self.q,
            **self.own_args(),
            **self.added,
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "size": str(self.size),
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    def sorted_by(self, key: str) -> dict[str, str]:
        """The arguments of the link on the ``key`` column's header (toggles direction)."""
        active = self.sort == key
        return self.args(sort=key, dir="asc" if active and self.descending else "desc", page=1)

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        if self.more:
            return (self.page - 1) * self.size + self.rows_on_page
        return min(self.page * self.size, self.total)

    @property
    def more_after(self) -> bool:
        """Past its count limit, whether a next page may follow this full one."""
        return self.more and self.rows_on_page == self.size

    def count_url(self) -> str:
        """This page of the list, with its exact count (when it says "more than")."""
        values = {**(request.view_args or {}), **self.args(), "count": "exact"}
        return url_for(request.endpoint, **values)


@dataclass
class StatusListing(Listing):
    """A listing filtered by one status among known ones (``?status=``); an unknown
    status shows everything."""

    status: str = ""

    def own_args(self) -> dict[str, str]:
        return {"status": self.status}

    def read_status(self, args, known) -> str:
        """Keep the requested status when it is one of ``known``; returns it."""
        status = args.get("status", "")
        self.status = status if status in known else ""
        return self.status


def read_listing(listing: Listing, args, sorts, default_sort: str, descending: bool) -> None:
    """Fill ``listing``'s common fields from the request ``args``; ``sorts`` are the
    allowed sort keys."""
    listing.q = args.get("q", "").strip()[:100]
    sort = args.get("sort", default_sort)
    if sort in sorts:
        listing.sort = sort
    else:
        listing.sort = default_sort
        listing.messages.append(_("Unknown sort column “%(value)s”; it was ignored.", value=sort))
    direction = args.get("dir")
    listing.descending = descending if direction not in ("asc", "desc") else direction == "desc"
    size = args.get("size", "25")
    listing.size = int(size) if size.isdigit() and int(size) in PAGE_SIZES else 25
    listing.page = read_page(args)
    listing.exact = args.get("count") == "exact"


def read_added(listing: Listing, args, list_key: str) -> None:
    """Read into ``listing`` the filters other apps add to the list ``list_key``
    (``guichet_list_filters``) where the member may use their app, and their values
    in ``args``; a value that is none of a filter's choices is set aside with a
    message."""
    known = current_app.extensions.setdefault("guichet_list_filters", {})
    if list_key not in known:
        known[list_key] = registry(current_app).call("guichet_list_filters", list_key=list_key)
    listing.added_filters = [f for f in known[list_key] if app_usable(f.app_key)]
    for added in listing.added_filters:
        value = args.get(added.key, "")
        if value in {choice for choice, _label in added.choices()}:
            listing.added[added.key] = value
        elif value:
            message = _(
                "%(what)s: unknown value “%(value)s”; it was ignored.",
                what=added.label,
                value=value,
            )
            listing.messages.append(message)


def apply_added(listing: Listing, query: Select) -> Select:
    """``query`` narrowed by the values of the added filters (:func:`read_added`)."""
    for added in listing.added_filters:
        if added.key in listing.added:
            query = added.apply(query, listing.added[added.key])
    return query


def starts_with(column, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` (case counts), found through an index where
    the planner would rather walk the organisation's rows.

    On PostgreSQL, give ``column`` an index with the pattern operators
    (``Index(..., postgresql_ops={"number": "varchar_pattern_ops"})``): the condition
    is a range of those operators, which that index reads whatever the database's
    collation and in a prepared statement's generic plan too (``LIKE 'p%'`` reads a
    plain index only under the C collation, and only when it sees the prefix). SQLite
    compares text by code point, so its index on ``column`` serves; its statistics
    average an organisation's rows over all organisations (40 where the largest holds
    20,000), so the matching keys are looked up first and the rows picked by them. A
    number matching none of 20,000 invoices: 33 ms, now 12; of 2,000,000 on
    PostgreSQL: 2.2 s, now a few milliseconds."""
    clause = column.startswith(prefix, autoescape=True)
    end = prefix + "\U0010ffff"  # after every text that starts with the prefix
    if db.session.get_bind().dialect.name != "sqlite":
        after, before = column.op("~>=~", is_comparison=True), column.op("~<~", is_comparison=True)
        return after(prefix) & before(end) & clause
    column = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    (key,) = column.table.primary_key.columns
    same = column.table.alias()
    found = same.c[column.name]
    matching = select(same.c[key.name]).where(
        found >= prefix, found < end, found.startswith(prefix, autoescape=True)
    )
    return key.in_(matching)


def distinct_values(column, organisation_id: int, most: int) -> list | None:
    """The distinct values of ``column`` among an organisation's rows, in order, read
    by hopping from one to the next along an index whose first columns are
    (``organisation_id``, ``column``): an index probe a value, where ``SELECT DISTINCT``
    reads every row (41 ms for an organisation's 200,000 invoices on PostgreSQL, seconds
    at millions). ``None`` when there are more than ``most``. Example::

        currencies = distinct_values(Invoice.currency, scope.organisation_id, 50)
    """
    column = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    owner = column.table.c.organisation_id == organisation_id

    def after(value):
        found = select(column).where(owner)
        found = found if value is None else found.where(column > value)
        return found.order_by(column).limit(1).scalar_subquery()

    hops = select(after(None).label("value"), literal(1).label("n")).cte(recursive=True)
    hops = hops.union_all(
        select(after(hops.c.value), hops.c.n + 1).where(hops.c.value.is_not(None), hops.c.n <= most)
    )
    values = db.session.scalars(select(hops.c.value).where(hops.c.value.is_not(None))).all()
    return None if len(values) > most else values


def selected_ids(values) -> list[int]:
    """The ids of the rows ticked in a list (the ``id`` arguments a selection's form
    sends), distinct and sorted; 400 when one is not a number."""
    raw = values.getlist("id")
    if not all(v.isdigit() and len(v) < 19 for v in raw):
        abort(400, _("The ids of the chosen rows must be numbers."))
    return sorted({int(v) for v in raw})


def read_page(args, name: str = "page") -> int:
    """The page number asked in ``args[name]``: 1 for anything but a page number (a page
    past the end is clamped by :func:`page_rows`)."""
    page = args.get(name, "1")
    return int(page) if page.isdigit() and 0 < int(page) < 10**9 else 1


def page_rows(
    listing: Listing,
    query: Select,
    order: tuple,
    count: Select | None = None,
    load: Callable[[list], list] | None = None,
) -> list:
    """The rows of ``listing``'s page of ``query`` sorted by ``order`` (end it with a
    unique column); sets ``listing.total`` and ``pages`` and clamps the page (counting
    no further than the listing's ``count_limit``, unless ``?count=exact``: past it,
    ``listing.more`` is set and the page is not clamped).

    ``count`` is the filtered select without joins, when ``query`` adds some. With
    ``load`` (rows by primary keys), a page far down the list (from
    :data:`DEFERRED_OFFSET` rows skipped) is found by its keys first, on ``count``,
    which an index can answer alone, then loaded: skipping rows costs little."""
    count = query if count is None else count
    limit = None if listing.exact else listing.count_limit
    listing.total = _count(count, limit)
    if limit is not None and listing.total > limit:
        listing.more, listing.total = True, limit
    listing.pages = max(1, -(-listing.total // listing.size))
    if not listing.more:
        listing.page = min(listing.page, listing.pages)
    offset = (listing.page - 1) * listing.size
    entity = count.column_descriptions[0]["entity"]
    if load is not None and offset >= DEFERRED_OFFSET and _sorts_within(order, entity):
        key = inspect(entity).primary_key[0]
        keys = db.session.scalars(
            count.with_only_columns(key).order_by(*order).limit(listing.size).offset(offset)
        ).all()
        found = {inspect(row).identity[0]: row for row in load(keys)}
        rows = [found[k] for k in keys if k in found]
    else:
        rows = db.session.scalars(query.order_by(*order).limit(listing.size).offset(offset)).all()
    listing.rows_on_page = len(rows)
    return rows


def _count(query: Select, limit: int | None) -> int:
    """The rows of ``query``; with ``limit``, at most ``limit + 1`` of them are counted."""
    # the query's own FROM is kept: a select with no condition has nothing else to name it
    if limit is None:
        counted = query.with_only_columns(func.count(), maintain_column_froms=True)
        return db.session.scalar(counted.order_by(None))
    first = query.with_only_columns(literal_column("1"), maintain_column_froms=True)
    first = first.order_by(None).limit(limit + 1)
    return db.session.scalar(select(func.count()).select_from(first.subquery()))


def _sorts_within(order: tuple, entity) -> bool:
    """Whether every column of ``order`` belongs to ``entity``'s own table."""
    table = inspect(entity).local_table
    return all(
        getattr(getattr(clause, "element", clause), "table", None) is table for clause in order
    )
