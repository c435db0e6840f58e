"""Issue 17 in a real browser: the rules editor's decay preview follows the points, half-life and window as
they are typed (and a new engagement row starts at 90 days, halving every 30); the what-if lists say why each
contact qualifies, the SAL figure says what it counts, and the "Actual outcome" column fits at laptop
width."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import EventType
from accounts.models import ContactActivityDaily
from scoring import workflow
from scoring.engine.preview import decay_preview_text
from scoring.models import Ruleset
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.browser.conftest import PASSWORD, csp_watch
from tests.scoring.factories import starter_ruleset


@pytest.fixture
def live(transactional_db):
    return starter_ruleset()


def _rule_row(page, name: str):
    return page.locator("tbody.rule-row").filter(has=page.locator(f'input[name$="-name"][value="{name}"]'))


def test_the_editor_preview_follows_the_half_life_and_the_window(page, login, member, live):
    draft = workflow.ruleset_draft_create(user=member, based_on=live, name="Recency")
    pricing = draft.rules.get(name="Pricing page")
    login(member)
    page.goto(f"/scoring/rulesets/{draft.pk}/edit/")
    row = _rule_row(page, "Pricing page")
    preview = row.locator(".rule-decay-preview")
    expect(preview).to_be_visible()
    expect(preview).to_have_text(
        decay_preview_text(points=pricing.points, cap=pricing.cap, half_life_days=pricing.half_life_days,
                           window_days=pricing.window_days)
    )  # fmt: skip
    # Typing rewrites it (the browser's arithmetic is the engine's).
    row.locator('input[name$="-half_life_days"]').fill("7")
    expect(preview).to_have_text(decay_preview_text(points=pricing.points, cap=pricing.cap, half_life_days=7,
                                                    window_days=pricing.window_days))  # fmt: skip
    row.locator('input[name$="-window_days"]').fill("")
    row.locator('input[name$="-half_life_days"]').fill("")
    expect(preview).to_contain_text("however old, an event earns full points")
    row.locator('input[name$="-half_life_days"]').fill("0")
    expect(preview).to_have_text("Fix the half-life, window or cap to see what one event earns by its age.")

    # A new engagement rule starts at 90 days, halving every 30.
    page.click("#add-engagement-rule")
    new_row = page.locator("tbody.rule-row").last
    expect(new_row.locator('input[name$="-window_days"]')).to_have_value("90")
    expect(new_row.locator('input[name$="-half_life_days"]')).to_have_value("30")
    new_row.locator('input[name$="-name"]').fill("Partner page")
    new_row.locator('input[name$="-url_pattern"]').fill("^/partners")
    new_row.locator('input[name$="-points"]').fill("10")
    expect(new_row.locator(".rule-decay-preview")).to_have_text(
        "One event: today 10 · 7 days ago 8.51 · 30 days ago 5 · 90+ days ago 0"
    )
    # A new fit row switched to an engagement rule takes the same defaults (an existing rule never does).
    page.click("#add-fit-rule")
    switched = page.locator("tbody.rule-row").last
    expect(switched.locator('input[name$="-window_days"]')).to_have_value("")
    switched.locator('select[name$="-kind"]').select_option("engagement")
    expect(switched.locator('input[name$="-window_days"]')).to_have_value("90")
    expect(switched.locator('input[name$="-half_life_days"]')).to_have_value("30")
    switched.locator("input.rule-delete").check()  # not saved
    careers = _rule_row(page, "Careers pages (job seekers)")
    careers.locator('select[name$="-kind"]').select_option("fit")
    careers.locator('select[name$="-kind"]').select_option("engagement")
    expect(careers.locator('input[name$="-half_life_days"]')).to_have_value("")
    row.locator('input[name$="-half_life_days"]').fill("14")  # the pricing rule back to a valid value
    page.screenshot(path="/tmp/ui-rule-decay-preview.png", full_page=True)
    page.click("#save-ruleset")
    page.wait_for_url(re.compile(r"/scoring/rulesets/\d+/$"))
    saved = Ruleset.objects.get(pk=draft.pk).rules.get(name="Partner page")
    assert (saved.window_days, saved.half_life_days) == (90, 30)


def _visits(account, email: str, *, views: int, days_ago: int) -> None:
    contact = ContactFactory(account=account, email=email, seniority="director", department="marketing")
    ContactActivityDaily.objects.create(
        contact=contact, account=account, day=timezone.now().date() - datetime.timedelta(days=days_ago),
        event_type=EventType.PAGE_VIEW, key="/pricing", count=views,
    )  # fmt: skip


@pytest.mark.parametrize("width", [1280, 1440])
def test_whatif_rows_say_why_and_the_outcome_column_fits_at_laptop_width(
    browser, live_server, csp_refused, member, live, width
):
    account = AccountFactory(name="Acme Analytics International Holdings", industry="Software",
                             employee_count=800)  # fmt: skip
    _visits(account, "keen@acme.com", views=3, days_ago=12)
    _visits(
        account, "a.very.long.address.for.the.layout@acme-analytics-international.com", views=1, days_ago=12
    )
    draft = workflow.ruleset_draft_create(user=member, based_on=live, name="What if")
    workflow.ruleset_update(ruleset=draft, user=member, expected_revision=1, data={"mql_engagement_min": 3})
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        csp_watch(page, csp_refused)
        page.goto("/login/")
        page.fill("input[name=username]", member.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        page.goto(f"/scoring/rulesets/{draft.pk}/whatif/")
        page.fill("#id_days", "30")
        page.click("#start-whatif")
        page.wait_for_url(re.compile(r"/whatif/\?run=\d+$"))
        table = page.locator("#whatif-newly-qualified")
        expect(table).to_be_visible(timeout=30_000)
        row = table.locator("tbody tr").first
        expect(row).to_contain_text("a.very.long.address")
        expect(row.locator(".whatif-reason")).to_contain_text(
            re.compile(r"^v2: MQL definition — fit \d+ ≥ 20")
        )
        expect(row.locator(".whatif-other-reason")).to_contain_text(
            re.compile(r"^v1: engagement at most [\d.]+ \(on [\d-]+\) < 15$")
        )
        expect(page.locator("#whatif-sal-note")).to_contain_text(
            "sales accepting an MQL is a person's decision"
        )
        expect(page.locator('#whatif-totals tr[data-metric="sal"] th')).to_contain_text("fast-track only")

        # The outcome column is whole: inside the table's box, the viewport, and nothing to scroll sideways.
        table.scroll_into_view_if_needed()
        scroller = table.locator("xpath=..")
        box, outer = row.locator("td.whatif-outcome").bounding_box(), scroller.bounding_box()
        header = table.locator("th.whatif-outcome").bounding_box()
        for cell in (box, header):
            assert cell["x"] >= outer["x"] and cell["x"] + cell["width"] <= outer["x"] + outer["width"] + 0.5
            assert cell["x"] + cell["width"] <= width
        assert scroller.evaluate("el => el.scrollWidth <= el.clientWidth")
        expect(row.locator("td.whatif-outcome .badge")).to_be_visible()
        expect(row.locator("td.whatif-outcome .badge")).to_have_text("no progress")
        page.screenshot(path=f"/tmp/ui-whatif-why-{width}.png", full_page=True)
    finally:
        context.close()
