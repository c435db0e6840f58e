"""One figure, one name, in a real browser: "Currently MQL" on the dashboard and on the funnel page is
the number of rows the contacts list shows when filtered to MQL (the link goes there), and the funnel
page says what its other figures count ("Entered MQL between …", the MQL cohort's conversion)."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import LifecycleStage
from accounts.models import Contact
from revops.choices import Role, TeamKind
from tests.accounts.factories import ContactFactory
from tests.revops.factories import make_member
from tests.scoring.factories import LifecycleTransitionFactory, starter_ruleset


@pytest.fixture
def world(transactional_db):
    starter_ruleset()
    now = timezone.now()
    stages = {}
    for name, stage, mql_days_ago in [
        ("moved", LifecycleStage.MQL, 3), ("accepted", LifecycleStage.SAL, 5),
        ("imported", LifecycleStage.MQL, None), ("earlier", LifecycleStage.MQL, 200),
    ]:  # fmt: skip
        contact = ContactFactory(first_name=name.title())
        # Set after creation: saving a contact rescores it at once here (no test transaction).
        Contact.objects.filter(pk=contact.pk).update(lifecycle_stage=stage)
        if mql_days_ago is not None:
            at = now - datetime.timedelta(days=mql_days_ago)
            LifecycleTransitionFactory(contact=contact, from_stage="lead", to_stage="mql", at=at)
            if stage == LifecycleStage.SAL:
                LifecycleTransitionFactory(contact=contact, from_stage="mql", to_stage="sal", at=at)
        stages[name] = stage
    return stages


def test_currently_mql_is_the_contacts_list_and_entries_say_what_they_count(page, login, world):
    login(make_member(kind=TeamKind.REVENUE_OPERATIONS, role=Role.LEAD))
    page.goto("/")
    mql = page.locator('#lifecycle-now a[data-stage="mql"]')
    expect(mql).to_contain_text("Currently MQL")
    expect(mql.locator(".stage-now-count")).to_have_text("3")
    mql.click()
    page.wait_for_url(lambda url: "lifecycle_stage=mql" in url)
    expect(page.locator("#object-list tbody tr")).to_have_count(3)

    page.goto("/scoring/funnel/")  # the last 90 days
    expect(page.locator('#lifecycle-now a[data-stage="mql"] .stage-now-count')).to_have_text("3")
    entered = page.locator('#stage-entries [data-stage="mql"]')
    expect(entered).to_contain_text("Entered MQL between")
    expect(entered.locator(".stage-entries-count")).to_have_text("2")  # moved and accepted
    chain = page.locator("#conversion-chain")
    expect(chain.locator('tr[data-stage="mql"] td').nth(1)).to_have_text("2")
    expect(chain.locator('tr[data-stage="sal"] td').nth(1)).to_have_text("1")
    expect(chain.locator('tr[data-stage="sal"] td').nth(2)).to_have_text("50%")
    step = page.locator('#funnel-table tr[data-step="mql-sal"]')
    expect(step.locator(".step-entered")).to_have_text("2")
    expect(step).to_contain_text("of them, reached SAL by now")
    expect(page.locator("#funnel-chart")).to_have_attribute("data-drawn", "1")
    page.screenshot(path="/tmp/ui-funnel-metrics.png", full_page=True)
