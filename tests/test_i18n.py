from datetime import date

from flask_babel import force_locale

from core.extensions import db
from core.i18n import money, short_date


def normalise(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_amounts_and_dates_in_french(app):
    with app.test_request_context(), force_locale("fr"):
        assert normalise(money(5626725)) == "56 267,25 €"
        assert normalise(money(-5626725)) == "-56 267,25 €"
        assert short_date(date(2022, 5, 27)) == "27/05/2022"


def test_quantities_and_unit_prices_keep_their_decimals(app):
    from decimal import Decimal

    from core.i18n import number

    with app.test_request_context(), force_locale("fr"):
        assert normalise(number(Decimal("40722.000"))) == "40 722"
        assert number(Decimal("0.105065")) == "0,105065"
        assert number(Decimal("20.00")) == "20"


def test_an_amount_summed_by_postgresql_is_written_like_any(app):
    from decimal import Decimal

    with app.test_request_context(), force_locale("fr"):
        assert normalise(money(Decimal(5626725))) == "56 267,25 €"


def test_a_list_counts_its_results_as_the_language_writes_numbers(app):
    from flask import render_template_string

    line = '{% from "macros.html" import count_line %}{{ count_line(1001, 1025, 123456) }}'
    more = '{% from "macros.html" import count_line %}{{ count_line(1, 25, 10000, "/x") }}'
    with app.test_request_context():
        with force_locale("fr"):
            assert "Affichage de 1 001 à 1 025 sur 123 456 résultats" in normalise(
                render_template_string(line)
            )
            assert "sur plus de 10 000 résultats" in normalise(render_template_string(more))
        with force_locale("en"):
            assert "Showing 1,001 to 1,025 of 123,456 results" in render_template_string(line)


def test_amounts_and_dates_in_english(app):
    with app.test_request_context(), force_locale("en"):
        assert money(5626725) == "€56,267.25"
        assert short_date(date(2022, 5, 27)) == "5/27/22"


def test_amounts_are_written_exactly_as_babel_writes_them(app):
    """``money`` learns Babel's way once per locale and currency (Babel takes 30 µs an
    amount): the same text for any amount, and Babel itself where the way does not fit."""
    import random
    from decimal import Decimal

    from babel.numbers import format_currency

    rng = random.Random(7)
    amounts = [
        0,
        1,
        -1,
        99,
        100,
        -100,
        99999,
        100000,
        *(rng.randint(-(10**13), 10**13) for _ in range(300)),
    ]
    for locale in ("fr", "en", "fr_BE", "nl_BE", "de", "de_CH", "hi_IN"):
        for currency in ("EUR", "USD", "GBP", "CHF", "JPY"):
            with app.test_request_context(), force_locale(locale):
                for cents in amounts:
                    babel = format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)
                    assert money(cents, currency) == babel, (locale, currency, cents)


def test_french_is_the_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "Connexion à votre espace client" in page


def test_browser_preference_chooses_english(client):
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(
        as_text=True
    )
    assert "Log in to your customer area" in page


def test_user_choice_wins_over_the_browser(logged_in, user):
    response = logged_in.post("/mon-compte/", data={"name": "Camille", "locale": "en"})
    assert response.status_code == 302
    page = logged_in.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Dashboard" in page and "My account" in page
    db.session.refresh(user)
    assert user.locale == "en"


def test_unknown_language_in_profile_is_refused(logged_in, user):
    response = logged_in.post("/mon-compte/", data={"name": "X", "locale": "de"})
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.locale is None


def _forms(string) -> tuple:
    return string if isinstance(string, tuple) else (string,)


def test_every_message_has_a_french_translation():
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(__file__).parents[1]
    catalogs = [
        root / "core/translations",
        *sorted((root / "plugins").glob("*/translations")),
        *sorted((root / "examples").glob("*/*/translations")),  # what a plugin author copies
    ]
    for folder in catalogs:
        with open(folder / "fr/LC_MESSAGES/messages.po", "rb") as handle:
            catalog = read_po(handle)
        missing = [m.id for m in catalog if m.id and not all(_forms(m.string))]
        assert missing == [], f"{folder}: untranslated {missing}"


def test_a_message_means_the_same_in_every_catalog():
    """The catalogs of the core and of the apps are merged into one: a message the
    core or two apps translate differently would show one app the other's word (the
    consumption page's "To" month once read "Destinataire")."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(__file__).parents[1]
    catalogs = [root / "core/translations", *sorted((root / "plugins").glob("*/translations"))]
    seen: dict[tuple, tuple[str, str]] = {}
    clashes = []
    for folder in catalogs:
        with open(folder / "fr/LC_MESSAGES/messages.po", "rb") as handle:
            for message in read_po(handle):
                if not message.id or isinstance(message.id, tuple):
                    continue
                key = (message.context, message.id)
                first = seen.setdefault(key, (message.string, folder.parent.name))
                if first[0] != message.string:
                    clashes.append(f"{key}: {first} / {(message.string, folder.parent.name)}")
    assert not clashes, "\n".join(clashes)


def test_a_change_that_rounds_to_nothing_has_no_sign(app):
    from core.i18n import change, month

    with app.test_request_context(), force_locale("fr"):
        assert change(-0.04) == "0,0\xa0%" and change(0.04) == "0,0\xa0%"
        assert change(12.34) == "+12,3\xa0%" and change(-5.06) == "-5,1\xa0%"
        assert month("2026-10") == "octobre 2026"
    with app.test_request_context(), force_locale("en"):
        assert change(12.34) == "+12.3%" and month("2026-10") == "October 2026"


def test_no_sentence_is_written_twice():
    """A sentence said in two places is said once, by a helper both use (a word or a
    column heading may repeat: each app names its own columns)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(__file__).parents[1]
    catalogs = [root / "core/translations", *sorted((root / "plugins").glob("*/translations"))]
    where: dict[str, list[str]] = {}
    for folder in catalogs:
        with open(folder / "fr/LC_MESSAGES/messages.po", "rb") as handle:
            for message in read_po(handle):
                if isinstance(message.id, str) and len(message.id.split()) >= 4:
                    where.setdefault(message.id, []).append(folder.parent.name)
    assert {m: apps for m, apps in where.items() if len(apps) > 1} == {}


def test_translation_functions_read_the_catalog_of_the_moment(app):
    """The plugin API's gettext family: the request's language, a lazy label in the
    language of the moment it is written, variables replaced."""
    from core.plugin_api import gettext, lazy_gettext, lazy_pgettext, ngettext, pgettext

    label, paid = lazy_gettext("To pay"), lazy_pgettext("invoice", "Paid")
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert gettext("To pay") == "À payer"
        assert pgettext("invoice", "Paid") == "Payée"
        assert (str(label), str(paid)) == ("À payer", "Payée")
        with force_locale("en"):
            assert (str(label), str(paid)) == ("To pay", "Paid")
        assert str(label) == "À payer"
        assert gettext("%(count)s left", count=3) == "3 left"
        assert ngettext("%(num)d file", "%(num)d files", 1) == "1 file"
        assert ngettext("%(num)d file", "%(num)d files", 2) == "2 files"
    assert gettext("To pay") == "À payer"  # no request: the default language


def test_every_catalog_counts_plurals_as_the_core_does(app):
    """The catalogs are merged into one, which counts with one rule: a catalog made
    with another (CLDR's three French forms) once turned "10 codes de secours restants"
    into English on every page."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    from core.i18n import ngettext

    root = Path(__file__).parents[1]
    catalogs = [
        root / "core/translations",
        *sorted((root / "plugins").glob("*/translations")),
        *sorted((root / "examples").glob("*/*/translations")),
    ]
    rules = {}
    for folder in catalogs:
        with open(folder / "fr/LC_MESSAGES/messages.po", "rb") as handle:
            catalog = read_po(handle)
        rules[str(folder.relative_to(root))] = catalog.plural_forms
    assert set(rules.values()) == {"nplurals=2; plural=(n > 1);"}, rules
    with app.test_request_context(), force_locale("fr"):
        many = ngettext("%(num)d recovery code left.", "%(num)d recovery codes left.", 10)
        assert many == "10 codes de secours restants."
