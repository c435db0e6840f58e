"""Unicode domains (issue 17): stored in their ASCII (IDNA) form, shown in unicode on the pages and in
the API's ``domain_display``, and found by a search or a filter typed in unicode."""

import pytest
from django.template import Context, Template

from accounts.normalize import display_domain, display_email, normalize_domain, search_domain_form
from tests.accounts.factories import AccountFactory, ContactFactory


def test_display_domain_turns_punycode_back_into_unicode():
    assert normalize_domain("Bücher.de") == "xn--bcher-kva.de"
    assert display_domain("xn--bcher-kva.de") == "bücher.de"
    assert display_domain(normalize_domain("shop.обмен.com")) == "shop.обмен.com"
    assert display_domain("acme.com") == "acme.com"
    assert display_domain("xn--zz.de") == "xn--zz.de"  # not valid IDNA: shown as stored
    assert display_domain(None) == "" and display_domain("") == ""


def test_display_email_turns_only_the_domain_back():
    assert display_email("müller@xn--bcher-kva.de") == "müller@bücher.de"
    assert display_email("ada@acme.com") == "ada@acme.com"
    assert display_email("") == "" and display_email("no-at-sign") == "no-at-sign"


def test_search_form_of_a_unicode_value():
    assert search_domain_form("bücher") == "xn--bcher-kva"
    assert search_domain_form("Bücher.de") == "xn--bcher-kva.de"
    assert search_domain_form("anna@bücher.de") == "anna@xn--bcher-kva.de"
    assert search_domain_form("acme") == ""  # ASCII already: nothing more to search


def test_template_filters():
    text = "{% load accounts_ui %}{{ d|unicode_domain }} {{ e|unicode_email }}"
    rendered = Template(text).render(Context({"d": "xn--bcher-kva.de", "e": "anna@xn--bcher-kva.de"}))
    assert rendered == "bücher.de anna@bücher.de"


@pytest.fixture
def buecher(db):
    account = AccountFactory(name="Buchhaus", domain=normalize_domain("bücher.de"))
    AccountFactory(name="Acme", domain="acme.com")
    ContactFactory(account=account, email="anna@xn--bcher-kva.de")
    return account


def test_account_pages_show_the_unicode_domain(client, viewer, buecher):
    client.force_login(viewer)
    listing = client.get("/accounts/").content.decode()
    assert "bücher.de" in listing and "xn--bcher-kva" not in listing
    detail = client.get(f"/accounts/{buecher.pk}/").content.decode()
    assert ">bücher.de</a>" in detail
    contacts = client.get("/accounts/contacts/").content.decode()
    assert "anna@bücher.de" in contacts


@pytest.mark.parametrize("typed", ["bücher", "Bücher.de", "xn--bcher-kva", "Buchhaus"])
def test_search_finds_the_account_by_unicode_or_stored_domain(client, viewer, buecher, typed):
    client.force_login(viewer)
    response = client.get("/accounts/", {"q": typed})
    assert [a.pk for a in response.context["object_list"]] == [buecher.pk]


def test_api_keeps_the_stored_domain_and_adds_the_unicode_one(client_for, viewer, buecher):
    api = client_for(viewer)
    body = api.get("/api/accounts/", {"q": "bücher.de"}).json()
    rows = [(r["domain"], r["domain_display"]) for r in body["results"]]
    assert rows == [("xn--bcher-kva.de", "bücher.de")]
    contacts = api.get("/api/contacts/", {"account_domain": "Bücher.de"}).json()["results"]
    assert [(c["email"], c["email_display"]) for c in contacts] == [
        ("anna@xn--bcher-kva.de", "anna@bücher.de")
    ]
    assert api.get("/api/contacts/", {"q": "anna@bücher.de"}).json()["results"][0]["email_display"] == (
        "anna@bücher.de"
    )


def test_api_writes_a_unicode_domain_in_its_stored_form(client_for, member):
    api = client_for(member)
    response = api.post("/api/accounts/", {"name": "Straße", "domain": "straße-café.de"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["domain"] == normalize_domain("straße-café.de") and body["domain"].isascii()
    assert body["domain_display"] == display_domain(body["domain"])
