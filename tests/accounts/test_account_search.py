"""The account pickers' search endpoint (issue 17): who may ask, what it finds, how many, bad input;
and the parent-company field it feeds (an id from the picker, a domain typed without scripts)."""

import pytest
from django.urls import reverse

from accounts.forms import AccountForm
from accounts.normalize import normalize_domain
from accounts.selectors import COMMON_COUNTRIES_CACHE_KEY
from revops.safecache import cache_delete
from tests.accounts.factories import AccountFactory

URL = reverse("accounts:account_search")


@pytest.fixture
def accounts(db):
    acme = AccountFactory(name="Acme Analytics", domain="acme.com")
    AccountFactory(name="Acme Europe", domain="acme.eu", parent=acme)
    AccountFactory(name="Roadrunner (an Acme customer)", domain="roadrunner.io")
    AccountFactory(name="Buchhaus", domain=normalize_domain("bücher.de"))
    AccountFactory(name="Globex", domain="globex.com")
    return acme


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def test_finds_by_name_or_domain_names_starting_with_it_first(client, viewer, accounts):
    client.force_login(viewer)
    response = client.get(URL, {"q": "acme"})
    assert response.status_code == 200
    assert names(response) == ["Acme Analytics", "Acme Europe", "Roadrunner (an Acme customer)"]
    assert response.json()["more"] is False
    first = response.json()["results"][0]
    assert first == {
        "id": accounts.pk,
        "name": "Acme Analytics",
        "domain": "acme.com",
        "label": "Acme Analytics · acme.com",
    }
    assert names(client.get(URL, {"q": "globex.co"})) == ["Globex"]


def test_a_unicode_domain_finds_its_account_and_is_shown_in_unicode(client, viewer, accounts):
    client.force_login(viewer)
    rows = client.get(URL, {"q": "bücher"}).json()["results"]
    assert [(r["name"], r["domain"], r["label"]) for r in rows] == [
        ("Buchhaus", "bücher.de", "Buchhaus · bücher.de")
    ]


def test_exclude_leaves_out_the_account_being_edited(client, viewer, accounts):
    client.force_login(viewer)
    assert "Acme Analytics" not in names(client.get(URL, {"q": "acme", "exclude": accounts.pk}))


def test_results_are_limited_and_say_there_are_more(client, viewer, db):
    for n in range(30):
        AccountFactory(name=f"Initech {n:02d}", domain=f"initech{n}.com")
    client.force_login(viewer)
    body = client.get(URL, {"q": "initech"}).json()
    assert len(body["results"]) == 10 and body["more"] is True
    body = client.get(URL, {"q": "initech", "limit": 25}).json()
    assert len(body["results"]) == 25 and body["more"] is True
    assert names(client.get(URL, {"q": "initech 07"})) == ["Initech 07"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 101},
        {"q": "acme", "exclude": "me"},
        {"q": "acme", "limit": 500},
    ],
)
def test_bad_input_is_a_400_that_says_what(client, viewer, accounts, params):
    client.force_login(viewer)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_only_users_who_may_see_accounts(client, outsider, accounts):
    assert client.get(URL, {"q": "acme"}).status_code in (302, 403)  # signed out: to the sign-in page
    client.force_login(outsider)
    assert client.get(URL, {"q": "acme"}).status_code == 403


def test_parent_field_takes_the_pickers_id_or_a_typed_domain(member, accounts):
    child = AccountFactory(name="Acme Labs", domain="acmelabs.com")
    data = {"name": "Acme Labs", "country": "", "custom": "{}"}
    by_id = AccountForm({**data, "parent": str(accounts.pk)}, user=member, instance=child)
    assert by_id.is_valid(), by_id.errors
    assert by_id.cleaned_data["parent"] == accounts
    by_domain = AccountForm({**data, "parent": "https://www.ACME.com/"}, user=member, instance=child)
    assert by_domain.is_valid(), by_domain.errors
    assert by_domain.cleaned_data["parent"] == accounts
    # The picker shows the chosen account by name, and never offers the account itself.
    widget = by_id.fields["parent"].widget
    assert widget.attrs["data-label"] == "Acme Analytics · acme.com"
    assert widget.attrs["data-exclude"] == str(child.pk)


def test_parent_field_refuses_itself_a_cycle_and_an_unknown_account(member, accounts):
    europe = accounts.subsidiaries.get()
    data = {"name": "Acme Analytics", "country": "", "custom": "{}"}
    itself = AccountForm({**data, "parent": str(accounts.pk)}, user=member, instance=accounts)
    assert not itself.is_valid() and "cannot be its own parent" in str(itself.errors["parent"])
    cycle = AccountForm({**data, "parent": str(europe.pk)}, user=member, instance=accounts)
    assert not cycle.is_valid() and "subsidiary" in str(cycle.errors["parent"])
    unknown = AccountForm({**data, "parent": "999999"}, user=member, instance=accounts)
    assert not unknown.is_valid() and "No account has" in str(unknown.errors["parent"])


def test_country_pickers_are_searchable_with_the_accounts_countries_first(client, viewer, db):
    cache_delete(COMMON_COUNTRIES_CACHE_KEY)  # counted by an earlier test's page, kept ten minutes
    for country, n in (("DE", 3), ("FR", 1), ("US", 2)):
        for _ in range(n):
            AccountFactory(country=country)
    client.force_login(viewer)
    html = client.get("/accounts/").content.decode()
    assert 'name="country"' in html and 'data-first="DE,US,FR"' in html
    # The country list is a select one can type in, the short yes/no filters stay plain selects.
    tag = html[html.index('name="country"') - 200 : html.index('name="country"') + 200]
    assert "data-searchable" in tag
    has_parent = html[html.index('name="has_parent"') - 200 : html.index('name="has_parent"') + 100]
    assert "data-searchable" not in has_parent
    # The parent filter is the account picker, not an id box.
    assert 'data-account-search="/accounts/search/"' in html and "Parent account (id)" not in html


@pytest.mark.parametrize("path", ["/accounts/opportunities/", "/accounts/contacts/"])
def test_the_lists_account_filter_is_the_picker_showing_the_chosen_account(client, viewer, accounts, path):
    client.force_login(viewer)
    html = client.get(path, {"account": accounts.pk}).content.decode()
    assert 'data-account-search="/accounts/search/"' in html and "Account id" not in html
    assert 'data-label="Acme Analytics · acme.com"' in html
    # An id the viewer may not see, or no number at all, shows no name (and finds nothing).
    assert "data-label" not in client.get(path, {"account": 999999}).content.decode()
