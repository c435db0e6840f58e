"""The rules pages in a real browser: create a draft and edit it (a threshold, a rule's points, a new
rule row added with htmx), a second session's conflicting save and the conflict panel, the what-if
chart, and a sales member accepting an MQL on the contact page."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import EventType, LifecycleStage
from accounts.models import Contact, ContactActivityDaily
from revops.choices import Role, TeamKind
from scoring import workflow
from scoring.choices import RulesetStatus
from scoring.models import LifecycleTransition, Ruleset
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.browser.conftest import PASSWORD
from tests.revops.factories import make_member
from tests.scoring.factories import ContactScoreFactory, starter_ruleset


@pytest.fixture
def live(transactional_db):
    return starter_ruleset()


def _login(page, user) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def _rule_row(page, name: str):
    """The <tbody> of the editor row whose name input holds ``name``."""
    return page.locator("tbody.rule-row").filter(has=page.locator(f'input[name$="-name"][value="{name}"]'))


def test_member_creates_a_draft_and_edits_a_threshold_and_a_rules_points(page, login, member, live):
    login(member)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("button", name="Scoring").or_(nav.get_by_role("link", name="Scoring")).click()
    nav.get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rules")
    expect(page.locator("#live-version")).to_contain_text(f"v{live.number}")

    page.fill("#new-draft input[name=name]", "Tighter MQL")
    page.get_by_role("button", name="New draft").click()
    page.wait_for_url(re.compile(r"/scoring/rulesets/\d+/edit/$"))
    expect(page.locator(".alert-success")).to_contain_text("created")

    page.fill("#id_mql_fit_min", "30")
    _rule_row(page, "Pricing page").locator('input[name$="-points"]').fill("14")
    # A new rule row comes from the server (htmx), with the formset's total updated out of band.
    page.click("#add-engagement-rule")
    new_row = page.locator("tbody.rule-row").last
    expect(new_row.locator('input[name$="-name"]')).to_have_value("")
    new_row.locator('input[name$="-name"]').fill("Partner page")
    new_row.locator('select[name$="-event_type"]').select_option("page_view")
    new_row.locator('input[name$="-url_pattern"]').fill("^/partners")
    new_row.locator('input[name$="-points"]').fill("6")
    page.click("#save-ruleset")

    page.wait_for_url(re.compile(r"/scoring/rulesets/\d+/$"))
    expect(page.locator(".alert-success")).to_contain_text("revision 2")
    expect(page.locator("#def-mql-fit")).to_have_text("30")
    expect(page.locator('#engagement-rules tr[data-rule="Pricing page"]')).to_contain_text("14")
    expect(page.locator('#engagement-rules tr[data-rule="Partner page"]')).to_contain_text("6")
    expect(page.locator("#diff .diff-settings")).to_contain_text("MQL: minimum fit points")
    expect(page.locator("#diff .diff-rules")).to_contain_text("Partner page")
    draft = Ruleset.objects.get(name="Tighter MQL")
    assert draft.mql_fit_min == 30 and draft.rules.get(name="Pricing page").points == 14
    page.screenshot(path="/tmp/ui-ruleset-detail.png", full_page=True)


def test_a_conflicting_save_in_another_session_shows_the_conflict_panel(
    browser, live_server, page, member, live
):
    colleague = make_member(kind=TeamKind.SALES, role=Role.MEMBER)
    draft = workflow.ruleset_draft_create(user=member, based_on=live, name="Shared draft")
    edit_url = f"/scoring/rulesets/{draft.pk}/edit/"

    _login(page, member)
    page.goto(edit_url)
    page.fill("#id_mql_fit_min", "33")
    _rule_row(page, "Pricing page").locator('input[name$="-points"]').fill("17")

    # A second session saves first.
    other = browser.new_context(base_url=live_server.url)
    try:
        other_page = other.new_page()
        _login(other_page, colleague)
        other_page.goto(edit_url)
        other_page.fill("#id_mql_engagement_min", "45")
        other_page.click("#save-ruleset")
        other_page.wait_for_url(re.compile(r"/scoring/rulesets/\d+/$"))
    finally:
        other.close()

    page.click("#save-ruleset")
    panel = page.locator("#conflict-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(colleague.username)
    expect(panel.locator('.diff-settings tr[data-field="mql_engagement_min"]')).to_contain_text("45")
    # Nothing of the user's edit was lost.
    expect(page.locator("#id_mql_fit_min")).to_have_value("33")
    expect(_rule_row(page, "Pricing page").locator('input[name$="-points"]')).to_have_value("17")
    page.screenshot(path="/tmp/ui-ruleset-conflict.png", full_page=True)

    page.click("#merge-ruleset")
    expect(page.locator("#id_mql_engagement_min")).to_have_value("45")
    expect(page.locator("#id_mql_fit_min")).to_have_value("33")
    page.click("#save-ruleset")
    page.wait_for_url(re.compile(r"/scoring/rulesets/\d+/$"))
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.mql_engagement_min, draft.revision) == (33, 45, 3)
    assert draft.rules.get(name="Pricing page").points == 17


def _active_contact(account, email: str, *, pricing_views: int, days_ago: int) -> None:
    """A fitting contact (director in marketing at an ICP account) with pricing-page visits."""
    contact = ContactFactory(account=account, email=email, seniority="director", department="marketing")
    ContactActivityDaily.objects.create(
        contact=contact,
        account=account,
        day=timezone.now().date() - datetime.timedelta(days=days_ago),
        event_type=EventType.PAGE_VIEW,
        key="/pricing",
        count=pricing_views,
    )


def test_whatif_page_draws_the_chart_and_fills_the_totals(page, login, member, live):
    account = AccountFactory(name="Acme Analytics", industry="Software", employee_count=800)
    # Three visits two weeks ago qualify under both versions; one visit only under a lower threshold.
    _active_contact(account, "keen@acme.com", pricing_views=3, days_ago=12)
    _active_contact(account, "curious@acme.com", pricing_views=1, days_ago=12)
    draft = workflow.ruleset_draft_create(user=member, based_on=live, name="What if")
    workflow.ruleset_update(
        ruleset=draft,
        user=member,
        expected_revision=1,
        data={"mql_engagement_min": 3, "engagement_grade_2_min": 3},
    )
    login(member)
    page.goto(f"/scoring/rulesets/{draft.pk}/")
    page.get_by_role("link", name="What-if").click()
    expect(page.locator("#id_baseline")).to_have_value(str(live.pk))
    page.fill("#id_days", "30")
    page.click("#start-whatif")
    page.wait_for_url(re.compile(r"/whatif/\?run=\d+$"))
    canvas = page.locator("#whatif-chart")
    expect(canvas).to_be_visible(timeout=30_000)
    expect(canvas).to_have_attribute("data-drawn", "1")
    totals = page.locator("#whatif-totals")
    expect(totals.locator("tbody tr")).to_have_count(5)
    mql = totals.locator('tr[data-metric="mql"] td')
    expect(mql.nth(0)).to_have_text("2")  # this version
    expect(mql.nth(1)).to_have_text("1")  # the baseline
    expect(page.locator("#whatif-newly-qualified")).to_contain_text("curious@acme.com")
    expect(page.locator("#whatif-by-channel tbody tr")).not_to_have_count(0)
    page.screenshot(path="/tmp/ui-whatif.png", full_page=True)


def test_sales_member_accepts_an_mql_on_the_contact_page(page, login, live):
    seller = make_member(kind=TeamKind.SALES, role=Role.MEMBER)
    contact = ContactFactory(first_name="Mia", last_name="Mql")
    # Saving a contact rescores it at once here (no test transaction); then marketing made it an MQL.
    Contact.objects.filter(pk=contact.pk).update(lifecycle_stage=LifecycleStage.MQL)
    ContactScoreFactory(contact=contact, ruleset=live, fit_grade="A", engagement_grade="1")
    login(seller)
    page.goto(f"/accounts/contacts/{contact.pk}/")
    expect(page.locator("#score-grade")).to_have_text("A1")
    expect(page.locator("#lifecycle-stage")).to_have_text("MQL")
    page.fill("#lifecycle-accept input[name=reason]", "Called her, she is evaluating")
    page.get_by_role("button", name="Accept (MQL → SAL)").click()
    expect(page.locator(".alert-success")).to_contain_text("sales-accepted lead")
    expect(page.locator("#lifecycle-stage")).to_have_text("SAL")
    expect(page.locator("#lifecycle-transitions tbody tr").first).to_contain_text("Called her")
    # Now it can be qualified with the SQL checklist.
    page.get_by_role("button", name="Qualify to SQL…").click()
    expect(page.locator("#lifecycle-qualify")).to_be_visible()
    page.screenshot(path="/tmp/ui-contact-lifecycle.png", full_page=True)
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.SAL
    transition = LifecycleTransition.objects.get(contact=contact)
    assert transition.actor == seller and transition.ruleset.status == RulesetStatus.PUBLISHED


def test_sales_rejects_an_mql_with_a_reason_code_and_the_funnel_counts_it(page, login, live):
    seller = make_member(kind=TeamKind.SALES, role=Role.MEMBER)
    contact = ContactFactory(first_name="Rex", last_name="Reject")
    Contact.objects.filter(pk=contact.pk).update(lifecycle_stage=LifecycleStage.MQL)
    login(seller)
    page.goto(f"/accounts/contacts/{contact.pk}/")
    page.get_by_role("button", name="Reject…").click()
    form = page.locator("#lifecycle-reject")
    expect(form.locator("select[name=reason_code] option")).to_have_count(11)  # "Reason…" and ten codes
    form.locator("select[name=reason_code]").select_option("other")
    form.get_by_role("button", name="Reject").click()  # "other" without a word: refused, nothing changes
    expect(page.locator(".alert-danger")).to_contain_text("the reason code is “other”")
    expect(page.locator("#lifecycle-stage")).to_have_text("MQL")
    page.wait_for_load_state()  # the page's scripts too: the button opens the form as a user's click would
    page.get_by_role("button", name="Reject…").click()
    expect(form).to_have_class(re.compile(r"\bshow\b"))  # opened, not still sliding open
    form.locator("select[name=reason_code]").select_option("no_budget")
    form.locator("textarea[name=reason]").fill("Budget went to hiring")
    with page.expect_navigation():
        form.get_by_role("button", name="Reject").click()
    expect(page.locator(".alert-success")).to_contain_text("Rejected")
    expect(page.locator("#lifecycle-stage")).to_have_text("Recycled")
    expect(page.locator("#lifecycle-transitions tbody tr").first).to_contain_text("No budget")
    page.goto("/scoring/funnel/")
    row = page.locator('#reasons-reject tr[data-reason="no_budget"] td')
    expect(row.nth(1)).to_have_text("1")
    expect(row.nth(2)).to_have_text("100%")
    page.screenshot(path="/tmp/ui-funnel-reasons.png", full_page=True)


def test_the_proposer_is_offered_no_approve_and_another_lead_approves(browser, live_server, live):
    proposer = make_member(kind=TeamKind.MARKETING, role=Role.LEAD)
    other = make_member(kind=TeamKind.MARKETING, role=Role.LEAD)
    draft = workflow.ruleset_draft_create(user=proposer, based_on=live, name="Four eyes")
    workflow.ruleset_propose(ruleset=draft, user=proposer)
    sessions = []
    for user in (proposer, other):
        context = browser.new_context(base_url=live_server.url)
        sessions.append(context)
        page = context.new_page()
        _login(page, user)
        page.goto(f"/scoring/rulesets/{draft.pk}/")
        if user is proposer:
            expect(page.locator("#workflow")).to_contain_text("Withdraw")
            expect(page.get_by_role("button", name="Approve")).to_have_count(0)
            expect(page.locator("#reject-form")).to_have_count(0)
        else:
            page.get_by_role("button", name="Approve").click()
            expect(page.locator(".alert-success")).to_contain_text("Approved")
            expect(page.locator("#approvals")).to_contain_text("Marketing")
            expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # signed already
    for context in sessions:
        context.close()
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.PROPOSED  # marketing signed; sales has not
