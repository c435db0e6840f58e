"""The accounts pages in a real browser: filter the list, open an account, edit it with a bad value."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import EventType, OpportunityStage
from accounts.models import AccountActivityDaily, ContactActivityDaily
from tests.accounts.factories import (
    AccountFactory,
    ContactFactory,
    EngagementEventFactory,
    OpportunityFactory,
    PersonaFactory,
    TechnologyFactory,
)


@pytest.fixture
def accounts_world(transactional_db):
    today = timezone.now().date()
    leader = PersonaFactory(name="Marketing leader", required_in_buying_team=True, priority=10)
    PersonaFactory(name="Economic buyer", required_in_buying_team=True, priority=20)
    acme = AccountFactory(
        name="Acme Analytics",
        domain="acme.com",
        industry="software",
        employee_count=800,
        country="US",
        annual_revenue=120_000_000,
        founded_year=2009,
    )
    acme.technologies.add(TechnologyFactory(name="Snowflake"), TechnologyFactory(name="Salesforce"))
    AccountFactory(name="Acme Europe", domain="acme.eu", industry="software", parent=acme, country="FR")
    AccountFactory(name="Acme Health", domain="acmehealth.com", industry="healthcare", country="US")
    AccountFactory(name="Initech", domain="initech.io", industry="software", country="GB")
    AccountFactory(name="Globex", domain="globex.com", industry="manufacturing", country="DE")
    ada = ContactFactory(
        account=acme, email="ada@acme.com", first_name="Ada", last_name="Byron", title="CMO", persona=leader
    )
    ContactFactory(account=acme, email="quinn@acme.com", first_name="Quinn", last_name="Idle", persona=leader)
    ContactActivityDaily.objects.create(
        contact=ada,
        account=acme,
        day=today - datetime.timedelta(days=3),
        event_type=EventType.PAGE_VIEW,
        key="/pricing",
        count=5,
    )
    for weeks_ago, count in [(0, 4), (1, 9), (3, 2), (6, 12), (10, 5), (20, 3)]:
        AccountActivityDaily.objects.create(
            account=acme,
            day=today - datetime.timedelta(weeks=weeks_ago),
            event_type=EventType.PAGE_VIEW,
            key="/pricing",
            count=count,
        )
    now = timezone.now()
    EngagementEventFactory(
        account=acme,
        contact=ada,
        event_type=EventType.DEMO_REQUEST,
        occurred_at=now - datetime.timedelta(hours=5),
        url="https://vendor.example/demo",
    )
    EngagementEventFactory(
        account=acme,
        contact=None,
        event_type=EventType.INTENT,
        topic="revenue operations platform",
        occurred_at=now - datetime.timedelta(days=2),
        url="",
    )
    for i in range(35):
        EngagementEventFactory(
            account=acme,
            contact=ada,
            occurred_at=now - datetime.timedelta(days=3, hours=i),
            url=f"/blog/post-{i}",
        )
    OpportunityFactory(
        account=acme,
        name="Acme platform deal",
        amount=48_000,
        stage=OpportunityStage.PROPOSAL,
        created_date=today - datetime.timedelta(days=1),
    )
    return {"acme": acme}


def _rows(page):
    return page.locator("#object-list tbody tr td:first-child a")


def test_filter_accounts_by_industry_and_search(page, login, viewer, accounts_world):
    login(viewer)
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Accounts", exact=True
    ).click()
    expect(_rows(page)).to_have_text(["Acme Analytics", "Acme Europe", "Acme Health", "Globex", "Initech"])
    page.fill("#id_industry", "software")
    page.get_by_role("button", name="Apply").click()
    expect(_rows(page)).to_have_text(["Acme Analytics", "Acme Europe", "Initech"])
    page.fill("#id_q", "acme")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"industry=software.*q=acme|q=acme.*industry=software"))
    expect(_rows(page)).to_have_text(["Acme Analytics", "Acme Europe"])
    expect(page.locator("#active-filters")).to_have_text("2 active")
    page.screenshot(path="/tmp/ui-accounts.png", full_page=True)
    # Sorting keeps the filters; clicking again reverses.
    page.get_by_role("link", name="Name").click()
    expect(_rows(page)).to_have_text(["Acme Europe", "Acme Analytics"])
    # Reset clears everything.
    page.get_by_role("link", name="Reset").click()
    expect(_rows(page)).to_have_count(5)


def test_account_page_shows_buying_team_timeline_and_sparkline(page, login, viewer, accounts_world):
    login(viewer)
    page.goto("/accounts/?q=acme+analytics")
    _rows(page).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Analytics")
    expect(page.locator("#firmographics")).to_contain_text("$120,000,000")
    expect(page.locator("#firmographics")).to_contain_text("Acme Europe")
    expect(page.locator("#technologies")).to_contain_text("Snowflake")
    team = page.locator("#buying-team")
    leader = team.locator('[data-persona="Marketing leader"]')
    expect(leader).to_contain_text("Ada Byron")
    expect(leader).to_contain_text("5 events")
    expect(leader).to_contain_text("not engaged")  # Quinn
    expect(page.locator("#missing-personas")).to_contain_text("Economic buyer")
    timeline = page.locator("#timeline-items > li.timeline-item")
    expect(timeline.first).to_contain_text("Demo request")
    expect(timeline.nth(1)).to_contain_text("Opportunity opened")
    expect(timeline.nth(2)).to_contain_text("revenue operations platform")
    expect(timeline).to_have_count(20)
    # Chart.js drew the 26-week sparkline.
    expect(page.locator("#weekly-sparkline[data-drawn]")).to_have_count(1)
    page.screenshot(path="/tmp/ui-account.png", full_page=True)
    # htmx loads the older part of the timeline in place.
    page.get_by_role("link", name="Show older").click()
    expect(timeline).to_have_count(38)
    expect(page.get_by_role("link", name="Show older")).to_have_count(0)


def test_edit_account_with_a_bad_value_shows_the_error(page, login, member, accounts_world):
    login(member)
    page.goto(f"/accounts/{accounts_world['acme'].pk}/")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit account")
    page.fill("#id_employee_count", "-20")
    page.fill("#id_domain", "not a domain")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#form-errors")).to_contain_text("Nothing was saved")
    expect(page.locator("#error-employee_count")).to_have_text("The number of employees cannot be negative.")
    expect(page.locator("#error-domain")).to_contain_text("is not a valid domain")
    expect(page.locator("#id_employee_count")).to_have_class(re.compile("is-invalid"))
    page.screenshot(path="/tmp/ui-account-edit-error.png", full_page=True)
    page.fill("#id_employee_count", "950")
    page.fill("#id_domain", "https://www.ACME.com/")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success")).to_contain_text("Saved account")
    expect(page.locator("#firmographics")).to_contain_text("950")
    expect(page.get_by_role("link", name="acme.com")).to_be_visible()


def test_viewer_gets_no_edit_button_and_a_403_on_the_form(page, login, viewer, accounts_world):
    login(viewer)
    page.goto(f"/accounts/{accounts_world['acme'].pk}/")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    assert page.goto(f"/accounts/{accounts_world['acme'].pk}/edit/").status == 403
