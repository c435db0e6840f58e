"""The sales desk in a real browser: a seller opens My accounts and My queue from the navigation, widens
to the team's, sees an MQL to accept and no play due, and marks the queue seen; and the in-market list's
net-new / open deal tabs."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import LifecycleStage, OpportunityStage
from accounts.models import Contact
from revops.choices import Role, TeamKind
from revops.models import Team
from scoring.choices import BuyingStage
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory
from tests.scoring.factories import AccountModelScoreFactory, AccountModelScoreHistoryFactory


@pytest.fixture
def desk(user_in):
    me = user_in(TeamKind.SALES, Role.MEMBER)
    mate = user_in(TeamKind.SALES, Role.MEMBER)
    sales = Team.objects.get(kind=TeamKind.SALES)
    mine = AccountFactory(name="Acme Analytics", owner=me, owner_team=sales)
    theirs = AccountFactory(name="Globex", owner=mate, owner_team=sales)
    AccountModelScoreFactory(account=mine, stage=BuyingStage.DECISION, in_market=0.62)
    now = timezone.now()  # Acme qualified yesterday
    AccountModelScoreHistoryFactory(account=mine, qualified=False, scored_at=now - datetime.timedelta(days=2))
    AccountModelScoreHistoryFactory(account=mine, qualified=True, scored_at=now - datetime.timedelta(days=1))
    AccountModelScoreFactory(account=theirs, stage=BuyingStage.PURCHASE, in_market=0.4)
    ada = ContactFactory(email="ada@acme.example", first_name="Ada", last_name="Byron", account=mine)
    # Set after the fact: a new contact is rescored once it commits (live server), which would recompute it.
    Contact.objects.filter(pk=ada.pk).update(lifecycle_stage=LifecycleStage.MQL)
    OpportunityFactory(account=theirs, stage=OpportunityStage.ENGAGING)
    return me


def test_a_seller_works_their_accounts_and_queue(page, login, desk):
    login(desk)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="My accounts", exact=True).click()
    expect(page).to_have_url(re.compile(r"/desk/accounts/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My accounts")
    expect(page.locator("#object-list")).to_contain_text("Acme Analytics")
    expect(page.locator("#object-list")).not_to_contain_text("Globex")
    page.locator('#scope-toggle a[data-scope="team"]').click()
    expect(page.locator("#object-list")).to_contain_text("Globex")

    nav.get_by_role("link", name="My queue", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My queue")
    expect(page.locator("#mql-count")).to_have_text("1")
    expect(page.locator("#queue-mqls")).to_contain_text("Ada Byron")
    expect(page.locator("#plays-due-count")).to_have_text("0")  # no playbook runs in this world
    expect(page.locator("#plays-due-none")).to_contain_text("No play is due for you")
    expect(page.locator("#qualified-since")).to_contain_text("last 14 days")
    expect(page.locator("#qualified-count")).to_have_text("1")
    expect(page.locator("#queue-qualified")).to_contain_text("Acme Analytics")
    page.locator("#mark-queue-seen").click()
    expect(page.locator("#qualified-since")).to_contain_text("Since you last marked the queue seen")
    expect(page.locator("#qualified-count")).to_have_text("0")


def test_the_in_market_list_opens_on_net_new_with_a_tab_for_open_deals(page, login, desk):
    login(desk)
    page.goto("/scoring/in-market/")
    expect(page.locator('#deal-tabs a[data-tab="net_new"]')).to_have_class(re.compile("active"))
    expect(page.locator("#inmarket-table")).to_contain_text("Acme Analytics")
    expect(page.locator("#inmarket-table")).not_to_contain_text("Globex")
    page.locator('#deal-tabs a[data-tab="open_or_customer"]').click()
    expect(page.locator("#inmarket-table")).to_contain_text("Globex")
    expect(page.locator("#inmarket-table")).not_to_contain_text("Acme Analytics")
