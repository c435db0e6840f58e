"""The campaign pages in a real browser (issue 14): marketing builds a segment whose live count follows
the criteria, creates a campaign with costs by month, a key, the segment as target and a holdout, and
launches it; a campaign that raised engagement is measured, its lift and weekly chart read, the
leaderboard marks the bottom program and exports it; an account page names the campaigns that touched it.
Every page loads without a Content-Security-Policy refusal (the ``page`` fixture) or a JavaScript error."""

import csv
import datetime
import io
import re

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import EventType
from accounts.models import AccountActivityDaily, Campaign
from campaigns.choices import AudienceGroup
from campaigns.measurement import audience_write, campaign_measure
from campaigns.models import CampaignAudience, CampaignTarget, Segment
from campaigns.segments import segment_create
from scoring.choices import BuyingStage
from tests.accounts.factories import AccountFactory, CampaignFactory, ChannelFactory
from tests.scoring.factories import AccountModelScoreFactory

TODAY = timezone.localdate()
INDUSTRIES = ["Software", "Retail", "Healthcare"]


@pytest.fixture(autouse=True)
def js_errors(page):
    """Uncaught exceptions, console errors and failed requests (but the browser's own favicon probe) on
    any page of a test: the test fails at its end if there was one."""
    errors: list[str] = []

    def on_console(msg):
        # A failed request logs "Failed to load resource" without its URL: the response handler says which.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console on {page.url}: {msg.text}")

    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("pageerror", lambda exc: errors.append(f"pageerror on {page.url}: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)
    yield errors
    assert errors == [], "JavaScript errors or failed requests:\n" + "\n".join(errors)


def nav_to(page, label: str) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name=label, exact=True).click()


def expect_drawn(page, selector: str) -> None:
    """A canvas that Chart.js drew (revops.js marks it), with a size."""
    canvas = page.locator(selector)
    expect(canvas).to_have_attribute("data-drawn", "1")
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, selector


@pytest.fixture
def market(transactional_db):
    """60 accounts, a third each in software, retail and healthcare; the first 9 in the decision stage
    (three of them in software: Software 00, 03 and 06), the rest in awareness."""
    accounts = []
    for i in range(60):
        industry = INDUSTRIES[i % 3]
        account = AccountFactory(
            name=f"{industry} {i:02d}", domain=f"{industry.lower()}{i:02d}.example", industry=industry
        )
        AccountModelScoreFactory(
            account=account, stage=BuyingStage.DECISION if i < 9 else BuyingStage.AWARENESS
        )
        accounts.append(account)
    return accounts


def test_member_builds_a_segment_with_a_live_count_and_reads_its_members(page, login, member, market):
    login(member)
    nav_to(page, "Segments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Segments")
    page.get_by_role("link", name="+ Add segment").click()
    expect(page).to_have_url(re.compile(r"/campaigns/segments/add/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("New segment")
    count = page.locator("#segment-preview #preview-count")
    # The preview loads with the page: no criteria yet, every account.
    expect(count).to_have_text("60")
    expect(page.locator("#segment-preview")).to_contain_text("no criteria: every account")

    page.fill("#id_name", "Software deciders")
    page.select_option("#id_c-industry_in", ["Software"])
    expect(count).to_have_text("20")
    page.select_option("#id_c-stage", ["decision"])
    expect(count).to_have_text("3")
    expect(page.locator("#preview-accounts li")).to_have_text(
        [re.compile(rf"^Software {i:02d}\b") for i in (0, 3, 6)]
    )
    page.screenshot(path="/tmp/ui-segment-edit.png", full_page=True)

    page.click("#save-segment")
    expect(page).to_have_url(re.compile(r"/campaigns/segments/\d+/$"))
    expect(page.locator(".alert-success")).to_contain_text(
        "Created segment “Software deciders” with 3 accounts"
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Software deciders")
    criteria = page.locator("#segment-criteria")
    expect(criteria).to_contain_text("Industry (any of)")
    expect(criteria).to_contain_text("Software")
    expect(criteria).to_contain_text("Buying stage")
    expect(criteria).to_contain_text("Decision")
    members = page.locator("#segment-members tbody tr td:first-child")
    expect(members).to_have_text(["Software 00", "Software 03", "Software 06"])
    expect(page.locator("#segment-changes li")).to_have_count(3)
    segment = Segment.objects.get(name="Software deciders")
    assert segment.criteria == {"industry_in": ["Software"], "stage": ["decision"]}
    page.screenshot(path="/tmp/ui-segment-detail.png", full_page=True)

    # Who was in it yesterday: nobody, it was made today.
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    page.fill("#as-of", yesterday)
    page.locator("#as-of-form").get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"as_of={yesterday}"))
    expect(page.locator("#as-of-form")).to_contain_text(f"Members on {yesterday} (0)")
    expect(page.locator("#segment-members tbody tr")).to_have_text(["No members on that day."])
    # And back to now.
    page.locator("#as-of-form").get_by_role("link", name="Now").click()
    expect(members).to_have_count(3)


def test_member_creates_a_campaign_with_a_holdout_and_launches_it(page, login, member, market):
    segment = segment_create(
        actor=member, data={"name": "All three industries", "criteria": {"industry_in": INDUSTRIES}}
    )
    assert segment.member_count == 60
    ChannelFactory(slug="events", name="Events")
    login(member)
    nav_to(page, "Campaigns")
    page.get_by_role("link", name="+ Add campaign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add campaign")
    page.fill("#id_name", "Spring summit")
    page.select_option("#id_channel", label="Events")
    start = TODAY - datetime.timedelta(days=3)
    page.fill("#id_start_date", start.isoformat())
    page.fill("#id_end_date", (TODAY + datetime.timedelta(days=30)).isoformat())
    page.fill("#id_budget", "40000")
    page.fill("#id_cost", "0")
    month = start.replace(day=1)
    next_month = (month + datetime.timedelta(days=32)).replace(day=1)
    page.fill("#id_cost_lines", f"{month:%Y-%m} 12000 booth\n{next_month:%Y-%m} 3000")
    page.fill("#id_keys", "utm_campaign: Spring-Summit")
    page.select_option("#id_target_segment", label="All three industries")
    page.fill("#id_holdout_percent", "20")
    page.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"/campaigns/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Spring summit")
    campaign = Campaign.objects.get(name="Spring summit")
    assert campaign.cost == 15000
    expect(page.locator("#cost-lines li")).to_have_count(2)
    expect(page.locator("#cost-lines")).to_contain_text(f"{month:%b %Y}")
    expect(page.locator("#campaign-fields")).to_contain_text("$15,000")
    expect(page.locator("#campaign-keys")).to_contain_text("spring-summit")
    target_card = page.locator("#campaign-target")
    expect(target_card.get_by_role("link", name="All three industries")).to_be_visible()
    expect(target_card).to_contain_text("20%")
    expect(page.locator("#launch-state")).to_contain_text("not yet")
    expect(page.locator("#audience-counts")).to_have_count(0)
    page.screenshot(path="/tmp/ui-campaign-created.png", full_page=True)

    # Launching asks first (data-confirm): dismissed, nothing happens; accepted, the audience is drawn.
    questions: list[str] = []

    def answer(accept: bool):
        def handle(dialog):
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.click("#launch-campaign")
    expect(page.locator("#launch-state")).to_contain_text("not yet")
    assert not CampaignAudience.objects.filter(campaign=campaign).exists()
    page.once("dialog", answer(True))
    page.click("#launch-campaign")
    expect(page.locator(".alert-success")).to_contain_text("Launched to")
    question = (
        "Launch to All three industries, holding out 20% of it at random? The audience is recorded once."
    )
    assert questions == [question, question]
    held = CampaignAudience.objects.filter(campaign=campaign, group=AudienceGroup.HOLDOUT).count()
    treated = CampaignAudience.objects.filter(campaign=campaign, group=AudienceGroup.TREATED).count()
    assert treated + held == 60 and 0 < held < 30
    expect(page.locator(".alert-success")).to_contain_text(
        f"Launched to {treated} accounts of All three industries; {held} held out (20%)"
    )
    expect(page.locator("#audience-counts")).to_contain_text(f"{treated} targeted · {held} held out")
    expect(page.locator("#launch-state")).to_contain_text(member.username)
    # Launched once: the button is gone.
    expect(page.locator("#launch-campaign")).to_have_count(0)
    assert CampaignTarget.objects.get(campaign=campaign).launched_by == member
    page.screenshot(path="/tmp/ui-campaign-launched.png", full_page=True)


# --- measured campaigns ------------------------------------------------------------------------------
START = TODAY - datetime.timedelta(days=27)  # four weeks of campaign, eight weeks before


def _engagement(accounts, rng, before: float, during: float) -> None:
    """Engaged events per account-week before the start and while the campaign runs (Poisson a day)."""
    rows = []
    for account in accounts:
        for offset in range(-56, 28):
            n = rng.poisson((before if offset < 0 else during) / 7)
            if n:
                rows.append(
                    AccountActivityDaily(
                        account=account,
                        day=START + datetime.timedelta(days=offset),
                        event_type=EventType.PAGE_VIEW,
                        key="/pricing",
                        count=n,
                    )
                )
    AccountActivityDaily.objects.bulk_create(rows)


def _program(name: str, effect: float, rng, *, cost: int = 5000) -> dict:
    """A campaign that started four weeks ago: 30 targeted accounts whose engagement rose by ``effect``
    events a week, 15 held out whose engagement stayed at one a week."""
    campaign = CampaignFactory(name=name, start_date=START, end_date=TODAY, cost=cost)
    treated = AccountFactory.create_batch(30, industry="Software")
    held = AccountFactory.create_batch(15, industry="Software")
    audience_write(
        campaign=campaign, treated=[a.pk for a in treated], holdout=[a.pk for a in held], at=timezone.now()
    )
    _engagement(treated, rng, 1.0, 1.0 + effect)
    _engagement(held, rng, 1.0, 1.0)
    return {"campaign": campaign, "treated": treated, "held": held}


@pytest.fixture
def programs(transactional_db):
    """The campaign Funding video (+6 events a week, not measured yet) and three measured programs:
    Program A (+3), Program B (+1) and Program Z, which changed nothing."""
    rng = np.random.default_rng(14)
    video = _program("Funding video", 6.0, rng, cost=30_000)
    others = [
        _program(name, effect, rng)
        for name, effect in [("Program A", 3.0), ("Program B", 1.0), ("Program Z", 0.0)]
    ]
    for other in others:
        assert campaign_measure(campaign=other["campaign"], end_of_data=TODAY) is not None
    return {"video": video, "others": others}


def test_measure_a_campaign_read_its_lift_and_the_leaderboard(page, login, member, programs):
    campaign = programs["video"]["campaign"]
    login(member)
    nav_to(page, "Campaigns")
    page.locator("#object-list").get_by_role("link", name="Funding video").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign.pk}/$"))
    expect(page.locator("#not-measured")).to_contain_text("Not measured yet")
    expect(page.locator("#audience-counts")).to_contain_text("30 targeted · 15 held out")

    page.click("#measure-campaign")
    expect(page.locator(".alert-success")).to_contain_text(
        "Measured: 30 targeted accounts against 15 controls."
    )
    lift = page.locator("#engagement-lift")
    expect(lift).to_contain_text("events / account-week")
    value = float(re.match(r"\s*([+-]\d+\.\d+)", lift.inner_text()).group(1))
    assert 4.0 < value < 8.0, value  # +6 events a week, give or take the noise of 45 accounts
    expect(page.locator("#campaign-lift")).to_contain_text("Raised engagement")
    expect(page.locator("#campaign-lift .text-success")).to_have_text("Raised engagement")
    expect_drawn(page, 'canvas[data-campaign-chart="weekly"]')
    weeks = page.evaluate(
        """() => Chart.getChart(document.querySelector('canvas[data-campaign-chart="weekly"]'))
                   .data.datasets.map(d => d.data.length)"""
    )
    assert weeks == [12, 12]  # eight weeks before, four while it ran
    page.screenshot(path="/tmp/ui-campaign-lift.png", full_page=True)

    # The leaderboard, ranked by engagement lift: the bottom 10% (one of four) is a cut candidate.
    page.get_by_role("link", name="Leaderboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Program leaderboard")
    page.select_option("#id_metric", "engagement_lift")
    page.locator("#leaderboard-form").get_by_role("button", name="Rank").click()
    expect(page).to_have_url(re.compile(r"metric=engagement_lift"))
    rows = page.locator("#leaderboard tbody tr")
    expect(rows.locator("td:nth-child(2)")).to_have_text(
        ["Funding video", "Program A", "Program B", "Program Z"]
    )
    expect(rows.locator("td:first-child")).to_have_text(["1", "2", "3", "4"])
    expect(rows.last).to_contain_text("cut candidate")
    expect(rows.last).to_have_class(re.compile(r"\btable-danger\b"))
    expect(page.locator("#leaderboard .badge", has_text="cut candidate")).to_have_count(1)
    expect(page.locator("#leaderboard-totals")).to_contain_text("4 programs")
    expect_drawn(page, 'canvas[data-campaign-chart="leaderboard"]')
    page.screenshot(path="/tmp/ui-leaderboard.png", full_page=True)

    # The CSV export answers, ranked the same way.
    with page.expect_download() as download:
        page.click("#leaderboard-csv")
    assert download.value.suggested_filename.startswith("leaderboard-")
    with open(download.value.path(), encoding="utf-8") as handle:
        exported = list(csv.reader(io.StringIO(handle.read())))
    assert exported[0][:2] == ["rank", "campaign"] and exported[0][-1] == "cut candidate"
    assert [row[1] for row in exported[1:]] == ["Funding video", "Program A", "Program B", "Program Z"]
    assert [row[-1] for row in exported[1:]] == ["", "", "", "yes"]


def test_a_targeted_account_page_names_the_campaign(page, login, viewer, programs):
    video = programs["video"]
    login(viewer)
    page.goto(f"/accounts/{video['treated'][0].pk}/")
    history = page.locator("#campaign-history")
    row = history.locator("tbody tr").filter(has_text="Funding video")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("targeted")
    # About one event a week in the eight weeks before, about seven while it ran: raised.
    expect(row.locator('[title="Raised its engagement"]')).to_have_text("▲")
    row.get_by_role("link", name="Funding video").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{video['campaign'].pk}/$"))
    # A held-out account says it was held out.
    page.goto(f"/accounts/{video['held'][0].pk}/")
    held_row = page.locator("#campaign-history tbody tr").filter(has_text="Funding video")
    expect(held_row).to_contain_text("held out")
    page.screenshot(path="/tmp/ui-account-campaigns.png", full_page=True)


def test_the_criteria_editor_labels_every_criterion(page, login, member, market):
    login(member)
    page.goto("/campaigns/segments/add/")
    expect(page.locator("#segment-preview #preview-count")).to_have_text("60")
    labels = page.locator("#criteria-editor label")
    expect(labels.filter(has_text="[invalid name]")).to_have_count(0, timeout=2_000)
    # The country list is searchable (Tom Select), which points its label at its search box.
    expect(page.locator('#criteria-editor label[for^="id_c-country"]')).to_have_text("Country")
