"""The revenue-plan pages in a real browser (issue 15): a marketing member builds next quarter's plan from
the opportunity history (the New plan form, then the editor: a win-rate override needs its reason, channel
shares in percent), a marketing lead proposes it and is offered no Approve, a sales lead and another
marketing lead approve, and Publish appears and publishes it; the attainment table and both charts (pipeline
by month, the forecast cone) render, with no JavaScript error, failed request or CSP refusal on any page."""

import datetime
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import OpportunityStage
from plans.models import RevenuePlan
from revops.choices import Role, TeamKind, VersionStatus
from tests.accounts.factories import ChannelFactory, OpportunityFactory
from tests.browser.conftest import PASSWORD, csp_watch
from tests.revops.factories import make_member

TODAY = timezone.localdate()


def next_quarter(day: datetime.date) -> datetime.date:
    """What the New plan form offers: the first day of the next quarter."""
    start = day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    return (start + datetime.timedelta(days=95)).replace(day=1)


QUARTER = next_quarter(TODAY)
# Days from created to close, chosen so that next quarter's creation window (the quarter shifted back a
# cycle) began 30 days ago and is still open today, whatever today is.
CYCLE = (QUARTER - TODAY).days + 30


@pytest.fixture
def people(transactional_db):
    return {
        "member": make_member(kind=TeamKind.MARKETING, role=Role.MEMBER, username="mia"),
        "mlead": make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="maya"),
        "mlead2": make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="marco"),
        "slead": make_member(kind=TeamKind.SALES, role=Role.LEAD, username="sam"),
    }


@pytest.fixture
def deals(transactional_db):
    """The year before next quarter: 12 deals of $20,000 closed a cycle after they opened, 8 won (a win rate
    of 2/3), inbound and outbound; and this quarter's open pipeline: $50,000 inbound, $30,000 outbound,
    $10,000 from events, created in the first days of the plan's creation window (the quarter shifted back a
    cycle: always in the past)."""
    channels = {
        slug: ChannelFactory(slug=slug, name=slug.title()) for slug in ("inbound", "outbound", "events")
    }
    for i in range(12):
        created = QUARTER - datetime.timedelta(days=360 - 15 * i)
        OpportunityFactory(
            channel=channels["inbound" if i % 2 else "outbound"],
            amount=20_000,
            created_date=created,
            close_date=created + datetime.timedelta(days=CYCLE),
            stage=OpportunityStage.LOST if i % 3 == 0 else OpportunityStage.WON,
        )
    for slug, amount, days_ago in (("inbound", 50_000, 2), ("outbound", 30_000, 5), ("events", 10_000, 3)):
        OpportunityFactory(
            channel=channels[slug],
            amount=amount,
            created_date=QUARTER - datetime.timedelta(days=CYCLE - days_ago),  # early in the window, past
            stage=OpportunityStage.ENGAGING,
        )
    return channels


@pytest.fixture
def js_errors(page):
    """Uncaught exceptions, console errors and failed requests on any page of the test's sessions."""
    errors: list[str] = []
    watch_errors(page, errors)
    yield errors
    assert errors == [], "JavaScript errors or failed requests:\n" + "\n".join(errors)


def watch_errors(page, errors: list[str]) -> None:
    def on_console(msg):
        # A failed request logs "Failed to load resource" without its URL: the response handler says which.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console on {page.url}: {msg.text}")

    def on_response(response):
        request = response.request
        # A form sent with a mistake comes back as its page with the errors, answered 400.
        refused_form = response.status == 400 and request.method == "POST" and request.is_navigation_request()
        if response.status >= 400 and not refused_form and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("pageerror", lambda exc: errors.append(f"pageerror on {page.url}: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)


@pytest.fixture
def session_for(browser, live_server, csp_refused, js_errors):
    """``session_for(user)``: a page in a browser session of its own, signed in as ``user``, watched for
    errors and CSP refusals like ``page``."""
    contexts = []

    def open_session(user):
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        other = context.new_page()
        csp_watch(other, csp_refused)
        watch_errors(other, js_errors)
        other.goto("/login/")
        other.fill("input[name=username]", user.username)
        other.fill("input[name=password]", PASSWORD)
        other.click("button[type=submit]")
        other.wait_for_url(lambda url: "/login/" not in url)
        return other

    yield open_session
    for context in contexts:
        context.close()


def workflow_buttons(page) -> set[str]:
    card = page.locator("#workflow")
    expect(card).to_be_visible()
    return {
        name
        for name in ("propose-plan", "approve-plan", "publish-plan", "edit-plan")
        if page.locator(f"#{name}").count()
    } | ({"reject-form"} if card.locator("#reject-form").count() else set())


def expect_drawn(page, selector: str) -> None:
    """A canvas that Chart.js drew (revops.js marks it), with a size and something painted on it."""
    canvas = page.locator(selector)
    expect(canvas).to_have_attribute("data-drawn", "1")
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, selector
    painted = canvas.evaluate(
        """c => { const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) { n++; } } return n; }"""
    )
    assert painted > 1000, f"{selector}: only {painted} pixels drawn"


def test_a_plan_is_built_agreed_by_four_eyes_published_and_its_attainment_drawn(
    page, login, people, deals, session_for, js_errors
):
    # A marketing member builds next quarter's plan from the history.
    login(people["member"])
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Plans").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revenue plans")
    form = page.locator("#new-plan")
    expect(form.locator("#id_period_start")).to_have_value(QUARTER.isoformat())
    form.locator("#id_revenue_target").fill("800000")
    page.click("#create-plan")
    page.wait_for_url(re.compile(r"/plans/\d+/$"))
    expect(page.locator(".alert-success")).to_contain_text("created from the history")
    plan = RevenuePlan.objects.get()
    assert (plan.period_start, plan.status) == (QUARTER, VersionStatus.DRAFT)
    # $800,000 at the history's win rate of 2/3 is $1,200,000 of pipeline, 60 deals of $20,000.
    expect(page.locator("#win-rate")).to_have_text("66.7%")
    expect(page.locator("#pipeline-needed")).to_have_text("$1,200,000")
    expect(page.locator("#opportunities-needed")).to_have_text("60")

    # The editor: an override without its reason is refused and changes nothing.
    page.click("#edit-plan")
    page.wait_for_url(re.compile(rf"/plans/{plan.pk}/edit/$"))
    page.fill("#id_win_rate", "0.5")
    page.fill("#share-inbound", "60")
    page.fill("#share-outbound", "30")
    page.fill("#share-events", "10")
    page.click("#save-plan")
    expect(page.locator("#numbers")).to_contain_text("Say why you override the history's win rate.")
    plan.refresh_from_db()
    assert (plan.revision, plan.win_rate) == (1, None)
    # The form kept what was typed; with a reason it saves.
    expect(page.locator("#id_win_rate")).to_have_value("0.5")
    expect(page.locator("#share-events")).to_have_value("10")
    page.fill("#id_win_rate_note", "A tougher market next quarter")
    page.click("#save-plan")
    page.wait_for_url(re.compile(rf"/plans/{plan.pk}/$"))
    expect(page.locator(".alert-success")).to_contain_text("Saved")
    expect(page.locator("#win-rate")).to_have_text("50.0%")
    expect(page.locator("#plan-numbers")).to_contain_text("override")
    expect(page.locator("#plan-numbers")).to_contain_text("Win rate overridden: A tougher market")
    expect(page.locator("#pipeline-needed")).to_have_text("$1,600,000")
    expect(page.locator("#opportunities-needed")).to_have_text("80")
    quotas = page.locator("#channel-quotas")
    expect(quotas.locator("tbody tr").filter(has_text="Inbound")).to_contain_text("$960,000")
    expect(quotas.locator("tbody tr").filter(has_text="Events")).to_contain_text("$160,000")
    plan.refresh_from_db()
    assert (plan.revision, plan.win_rate) == (2, 0.5)
    assert {a.channel.slug: a.share for a in plan.allocations.all()} == pytest.approx(
        {"inbound": 0.6, "outbound": 0.3, "events": 0.1}
    )
    assert workflow_buttons(page) == {"propose-plan", "edit-plan"}

    # A marketing lead proposes it, and is then offered no Approve (four eyes).
    proposer = session_for(people["mlead"])
    proposer.goto(f"/plans/{plan.pk}/")
    proposer.click("#propose-plan")
    expect(proposer.locator(".alert-success")).to_contain_text("Proposed")
    assert workflow_buttons(proposer) == set()
    expect(proposer.locator("#approvals")).to_contain_text("None yet")

    # A sales lead approves; the plan still needs marketing, so nothing is publishable yet.
    sales = session_for(people["slead"])
    sales.goto(f"/plans/{plan.pk}/")
    assert workflow_buttons(sales) == {"approve-plan", "reject-form"}
    sales.click("#approve-plan")
    expect(sales.locator(".alert-success")).to_contain_text("Approved")
    expect(sales.locator("#approvals")).to_contain_text("sam")
    assert workflow_buttons(sales) == set()
    plan.refresh_from_db()
    assert plan.status == VersionStatus.PROPOSED

    # Another marketing lead approves: the plan is approved, and Publish appears.
    marketing = session_for(people["mlead2"])
    marketing.goto(f"/plans/{plan.pk}/")
    marketing.click("#approve-plan")
    expect(marketing.locator(".alert-success")).to_contain_text("Approved")
    plan.refresh_from_db()
    assert plan.status == VersionStatus.APPROVED
    assert "publish-plan" in workflow_buttons(marketing)
    proposer.reload()
    assert "approve-plan" not in workflow_buttons(proposer)
    marketing.click("#publish-plan")
    expect(marketing.locator(".alert-success")).to_contain_text("Published")
    expect(marketing.locator("h1 .badge")).to_contain_text("Published")
    plan.refresh_from_db()
    assert plan.status == VersionStatus.PUBLISHED and plan.published_by == people["mlead2"]

    # The published plan's attainment: every channel's created pipeline against its quota.
    page.goto(f"/plans/{plan.pk}/")
    inbound = quotas.locator("tbody tr").filter(has_text="Inbound")
    expect(inbound).to_contain_text("$50,000")
    expect(inbound).to_contain_text("5%")  # 50,000 of 960,000
    expect(quotas.locator("tbody tr").filter(has_text="Events")).to_contain_text("$10,000")
    expect(page.locator("#created-total")).to_contain_text("$90,000")
    expect(page.locator("#month-table tbody tr")).to_have_count(len(plan_months(plan)))
    expect_drawn(page, 'canvas[data-plan-chart="months"]')
    expect_drawn(page, 'canvas[data-plan-chart="cone"]')
    expect(page.locator("#forecast-expected")).to_contain_text("$")
    # The cone starts today, where the pipeline created so far ends (not at a partial month's end).
    cone = json.loads(page.locator("#cone-data").text_content())
    now = cone["labels"].index(TODAY.isoformat())
    assert cone["created"][now] == cone["expected"][now] == cone["low"][now] == 90_000
    assert cone["created"][now + 1 :] == [None] * (len(cone["labels"]) - now - 1)
    assert all(value is not None for value in cone["expected"][now:])
    assert cone["labels"][-1] == (plan.period_end - datetime.timedelta(days=CYCLE)).isoformat()
    page.screenshot(path="/tmp/ui-plan-detail.png", full_page=True)

    # The list shows the published plan with its pipeline needed.
    page.goto("/plans/")
    row = page.locator("#plan-table tbody tr").filter(has_text=plan.scope_label)
    expect(row).to_contain_text("Published")
    expect(row).to_contain_text("$1,600,000")


def plan_months(plan: RevenuePlan) -> list[str]:
    """The months of the plan's creation window: the period shifted back a cycle."""
    first = plan.period_start - datetime.timedelta(days=CYCLE)
    last = plan.period_end - datetime.timedelta(days=CYCLE)
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month.isoformat()[:7])
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months
