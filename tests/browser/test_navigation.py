"""The shell in a real browser: log in, the navigation reaches every section, log out."""

import re

from playwright.sync_api import expect

from tests.accounts.factories import AccountFactory, OpportunityFactory

SECTIONS = [
    # (navigation label, URL path, page heading)
    ("Accounts", "/accounts/", "Accounts"),
    ("Contacts", "/accounts/contacts/", "Contacts"),
    ("Personas", "/accounts/personas/", "Personas"),
    ("Opportunities", "/accounts/opportunities/", "Opportunities"),
    ("Campaigns", "/campaigns/", "Campaigns"),
    ("Dashboard", "/", "Dashboard"),
]


def test_anonymous_visitor_is_sent_to_login(page, db):
    page.goto("/accounts/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/accounts/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_wrong_password_is_refused_with_a_message(page, viewer):
    page.goto("/login/")
    page.fill("input[name=username]", viewer.username)
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".alert-danger")).to_contain_text("correct username and password")


def test_login_then_every_section_is_one_click_away(page, login, viewer):
    account = AccountFactory(name="Acme Analytics")
    OpportunityFactory(account=account, name="Acme platform deal")
    login(viewer)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#recent-opportunities")).to_contain_text("Acme platform deal")
    expect(page.locator("#navbar-teams")).to_contain_text("Sales")
    page.screenshot(path="/tmp/ui-dashboard.png", full_page=True)
    # A viewer cannot import, so the entry is not offered.
    expect(nav.get_by_role("link", name="Import")).to_have_count(0)
    for label, path, heading in SECTIONS:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(page).to_have_url(re.compile(rf"{re.escape(path)}$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        # The current section, and only it, is highlighted.
        expect(nav.locator("a.nav-link.active")).to_have_text(label)


def test_user_menu_shows_teams_and_logs_out(page, login, member):
    login(member)
    page.click("#user-menu")
    expect(page.locator("#user-teams")).to_contain_text("Marketing · Member")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/accounts/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))


def test_user_in_no_team_sees_only_the_dashboard(page, login, outsider):
    login(outsider)
    expect(page.get_by_text("You are not in a team yet")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.locator("a.nav-link")).to_have_count(1)
    response = page.goto("/accounts/")
    assert response.status == 403
