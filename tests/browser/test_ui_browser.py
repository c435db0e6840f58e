"""Issue 17 in a real browser: long names keep the tables on screen, the country filter is a select
one can type in, and a parent company is chosen by typing its name (Tom Select, static/js/revops.js)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from accounts.selectors import COMMON_COUNTRIES_CACHE_KEY
from revops.safecache import cache_delete
from tests.accounts.factories import AccountFactory
from tests.scoring.factories import RulesetFactory

VIEWPORT = {"width": 1280, "height": 900}
# As long as an account's or a ruleset's name may be (200 characters: the 300 only fit on SQLite,
# which does not enforce a column's length), as a user pasted it: one very long word, then words.
LONG_NAME = ("Bundesverband" + "x" * 87 + " " + " ".join(["Holding"] * 12) + " " + "y" * 20)[:200]


@pytest.fixture
def world(transactional_db):
    cache_delete(COMMON_COUNTRIES_CACHE_KEY)  # counted by an earlier test's page, kept ten minutes
    globex = AccountFactory(name="Globex Corporation", domain="globex.com", country="DE")
    AccountFactory(name="Globex Germany", domain="globex.de", country="DE", parent=globex)
    AccountFactory(name="Initech", domain="initech.io", country="US")
    AccountFactory(name="Hooli", domain="hooli.com", country="US")
    AccountFactory(name="Umbrella", domain="umbrella.co.uk", country="GB")
    child = AccountFactory(name="Acme Labs", domain="acmelabs.com", country="US")
    return {"globex": globex, "child": child}


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_longest_name_keeps_the_tables_within_the_viewport(page, login, member, world):
    assert len(LONG_NAME) == Account._meta.get_field("name").max_length == 200
    AccountFactory(name=LONG_NAME, domain="long.example", industry="software", employee_count=12_345)
    RulesetFactory(name=LONG_NAME)
    page.set_viewport_size(VIEWPORT)
    login(member)

    page.goto("/accounts/?sort=-employees")
    table = page.locator("#object-list")
    link = table.locator("a", has_text="Bundesverband")
    expect(link).to_have_attribute("title", LONG_NAME)  # the whole name, on hover
    box = table.bounding_box()
    assert box["x"] + box["width"] <= VIEWPORT["width"] and page_width(page) <= VIEWPORT["width"]
    assert link.bounding_box()["height"] < 60  # two lines at most, then an ellipsis
    # The other columns keep their contents whole.
    expect(table.locator("tr", has_text="long.example")).to_contain_text("12,345")

    page.goto("/scoring/rulesets/")
    rulesets = page.locator("#ruleset-table")
    expect(rulesets.locator(f'[title="{LONG_NAME}"]')).to_be_visible()
    box = rulesets.bounding_box()
    assert box["x"] + box["width"] <= VIEWPORT["width"] and page_width(page) <= VIEWPORT["width"]
    page.screenshot(path="/tmp/ui-long-names.png", full_page=True)


def test_the_country_filter_is_searchable_and_offers_the_accounts_countries_first(page, login, viewer, world):
    login(viewer)
    page.goto("/accounts/")
    page.locator("summary", has_text="More filters").click()
    control = page.locator("#id_country + .ts-wrapper .ts-control")
    control.click()
    dropdown = page.locator("#id_country + .ts-wrapper .ts-dropdown")
    # Not Afghanistan first: the countries the accounts are in, most accounts first.
    first_group = dropdown.locator(".optgroup").first
    expect(first_group.locator(".optgroup-header")).to_have_text("Most accounts")
    expect(first_group.locator(".option")).to_have_text(
        [re.compile("United States"), "Germany", re.compile("United Kingdom")]
    )

    page.keyboard.type("germ")
    expect(dropdown.locator(".option", has_text="Germany")).to_be_visible()
    expect(dropdown.locator(".option", has_text="France")).to_have_count(0)
    dropdown.locator(".option", has_text="Germany").click()
    page.keyboard.type("united k")  # the search starts afresh after a choice
    dropdown.locator(".option", has_text="United Kingdom").click()
    expect(page.locator("#id_country + .ts-wrapper .item")).to_have_count(2)

    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"country=DE"))
    assert "country=GB" in page.url
    rows = page.locator("#object-list tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#object-list")).not_to_contain_text("Initech")
    # The chosen countries stay chosen on the filtered page.
    expect(page.locator("#id_country + .ts-wrapper .item")).to_have_text(
        [re.compile("Germany"), re.compile("United Kingdom")]
    )


def test_choose_the_parent_company_by_typing_its_name(page, login, member, world):
    child, globex = world["child"], world["globex"]
    login(member)
    page.goto(f"/accounts/{child.pk}/edit/")
    page.locator("#id_parent + .ts-wrapper .ts-control").click()
    page.keyboard.type("glob")
    dropdown = page.locator("#id_parent + .ts-wrapper .ts-dropdown")
    expect(dropdown.locator(".option")).to_have_count(2)  # Globex Corporation and Globex Germany
    dropdown.locator(".option", has_text="Globex Corporation · globex.com").click()
    expect(page.locator("#id_parent + .ts-wrapper .item")).to_have_text("Globex Corporation · globex.com")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success")).to_contain_text("Saved account")
    expect(page.locator("#firmographics")).to_contain_text("Globex Corporation")
    assert Account.objects.get(pk=child.pk).parent_id == globex.pk

    # Editing again shows the chosen parent by name, and the account itself is never offered.
    page.goto(f"/accounts/{globex.pk}/edit/")
    page.locator("#id_parent + .ts-wrapper .ts-control").click()
    page.keyboard.type("globex")
    expect(dropdown.locator(".option", has_text="Globex Germany")).to_be_visible()
    expect(dropdown.locator(".option", has_text="Globex Corporation")).to_have_count(0)
    # Choosing a subsidiary as the parent would make a cycle: refused, nothing saved.
    dropdown.locator(".option", has_text="Globex Germany").click()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-parent")).to_contain_text("is a subsidiary of this account")
    assert Account.objects.get(pk=globex.pk).parent_id is None
