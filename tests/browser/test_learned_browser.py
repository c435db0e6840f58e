"""The learned-score pages in a real browser: from the navigation to a model's backtest report whose
charts draw, a backtest job followed by htmx until its report appears, promoting a challenger, and from
the in-market accounts (filtered by stage) to an account page whose Scores section explains itself."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from revops.choices import JobStatus
from revops.models import JobRun
from scoring.choices import ScoringModelStatus
from scoring.learned.progress import STEPS
from tests.scoring.factories import (
    AccountModelScoreFactory,
    AccountModelScoreHistoryFactory,
    BacktestJobFactory,
    BuyingStageTransitionFactory,
    ScoringModelFactory,
)
from tests.scoring.test_learned_compare import backtest_report
from tests.scoring.test_learned_views import champion_with_history, realistic_report

REPORT_CHARTS = [
    "#report-roc",
    "#report-calibration",
    "#report-lift",
    "#report-capture",
    "#chart-distribution-xgboost",
]


@pytest.fixture
def js_errors(page):
    """Uncaught exceptions, console errors and failed requests (but the browser's own favicon probe)."""
    errors: list[str] = []

    def on_console(msg):
        # A failed request logs "Failed to load resource" without its URL: the response handler says which.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console: {msg.text}")

    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)
    return errors


def open_scoring_menu(page, entry: str):
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("button", name="Scoring").or_(nav.get_by_role("link", name="Scoring", exact=True)).click()
    nav.get_by_role("link", name=entry, exact=True).click()


def expect_drawn(page, selector: str):
    """A canvas that Chart.js drew (the script marks it), with a size."""
    canvas = page.locator(selector)
    expect(canvas).to_have_attribute("data-drawn", "1")
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, selector


def test_models_page_to_a_report_whose_charts_draw(page, login, viewer, js_errors):
    champion = champion_with_history()
    login(viewer)
    open_scoring_menu(page, "Models")
    expect(page).to_have_url(re.compile(r"/scoring/models/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Models")
    expect(page.locator("#model-table tbody tr")).to_have_count(2)
    # A viewer reads; retraining is for those who may.
    expect(page.get_by_role("button", name="Retrain now")).to_have_count(0)
    page.locator(f'tr[data-model="{champion.pk}"] a').first.click()
    expect(page).to_have_url(re.compile(rf"/scoring/models/{champion.pk}/$"))
    expect(page.locator("#leakage-warnings")).to_contain_text("opportunities_open")
    expect(page.locator("#comparison-table tbody tr")).to_have_count(5)
    expect(page.locator('#comparison-table tr[data-model="ground_truth"]')).to_contain_text("Ground truth")
    for selector in REPORT_CHARTS:
        expect_drawn(page, selector)
    # The baselines' distributions are folded away; opened, they draw at full size.
    page.get_by_text("Score distributions of the other models").click()
    expect_drawn(page, "#chart-distribution-naive_bayes")
    expect(page.locator("#fold-table tbody tr")).to_have_count(3)
    expect(page.locator("#artefact-checksum")).to_have_text(champion.artefact_sha256)
    page.screenshot(path="/tmp/ui-model-detail.png", full_page=True)
    assert js_errors == []


def test_a_backtest_job_is_followed_until_its_report_appears(page, login, viewer, js_errors):
    job = BacktestJobFactory(status=JobStatus.PENDING, finished_at=None, result={})
    login(viewer)
    page.goto(f"/scoring/models/jobs/{job.pk}/")
    expect(page.locator("#job-progress")).to_have_attribute("data-finished", "false")
    expect(page.locator("#job-phase")).to_contain_text("waiting for a worker")
    # The worker finishes: htmx's next poll reloads the page, which shows the report.
    job.status, job.finished_at, job.result = JobStatus.SUCCEEDED, timezone.now(), realistic_report()
    job.message = "xgboost ROC AUC 0.820"
    job.save()
    expect(page.locator("#job-progress")).to_have_attribute("data-finished", "true")
    expect(page.locator("#job-phase")).to_contain_text("xgboost ROC AUC 0.820")
    expect(page.locator("#comparison-table")).to_be_visible()
    for selector in REPORT_CHARTS:
        expect_drawn(page, selector)
    assert js_errors == []


def test_admin_promotes_a_challenger_with_a_reason(page, login, revops_admin, js_errors):
    champion = champion_with_history()
    challenger = ScoringModelFactory(
        metrics=realistic_report(curves=False), reason="Does not beat the champion."
    )
    login(revops_admin)
    page.goto(f"/scoring/models/{challenger.pk}/")
    # The older report has no curves: the cards say so, the calibration chart still draws.
    expect(page.locator("#report-roc-card")).to_contain_text("no ROC points")
    expect_drawn(page, "#report-calibration")
    page.get_by_role("button", name="Promote to champion").click()
    page.get_by_label("Reason for promoting").fill("Better on the last quarter")
    page.locator("#promote-form").get_by_role("button", name="Promote").click()
    expect(page.locator(".alert-success")).to_contain_text(
        f"v{challenger.version} is the in market (account) champion now"
    )
    expect(page.locator("h1 .model-status")).to_have_text("Champion")
    champion.refresh_from_db()
    assert champion.status == ScoringModelStatus.RETIRED
    assert js_errors == []


def test_admin_excludes_a_column_a_leakage_warning_names(page, login, revops_admin, js_errors):
    challenger = ScoringModelFactory(metrics=realistic_report(curves=False), reason="Unresolved leakage.")
    login(revops_admin)
    page.goto(f"/scoring/models/{challenger.pk}/")
    warning = page.locator('#leakage-warnings li[data-column="opportunities_open"]')
    expect(warning).to_have_attribute("data-status", "unresolved")
    warning.get_by_label("Why").fill("sales fills it in after the call")
    warning.get_by_role("button", name="Exclude from training").click()
    expect(page.locator(".alert-success")).to_contain_text("is left out of training")
    warning = page.locator('#leakage-warnings li[data-column="opportunities_open"]')
    expect(warning).to_have_attribute("data-status", "excluded")
    expect(warning).to_contain_text("sales fills it in after the call")
    expect(warning.get_by_role("button", name="Exclude from training")).to_have_count(0)
    assert js_errors == []


def test_in_market_accounts_filtered_by_stage_to_an_account_and_its_scores(page, login, viewer, js_errors):
    model = champion_with_history()
    stages = [
        ("Acme Analytics", 0.62, "purchase"),
        ("Globex", 0.41, "decision"),
        ("Initech", 0.36, "decision"),
        ("Umbrella", 0.08, "awareness"),
    ]
    scores = {}
    for name, p, stage in stages:
        scores[name] = AccountModelScoreFactory(
            account__name=name, model=model, in_market=p, stage=stage,
            contributions=[["research_30d", 7.0, 0.61], ["log_employees", 3.0, -0.2]],
        )  # fmt: skip
    globex = scores["Globex"].account
    for days, p in ((40, 0.1), (20, 0.22), (5, 0.41)):
        AccountModelScoreHistoryFactory(
            account=globex,
            in_market=p,
            profile_fit=55 + days / 4,
            scored_at=timezone.now() - datetime.timedelta(days=days),
        )
    BuyingStageTransitionFactory(account=globex, model=model, reason="in market 0.41 ≥ 0.30 (decision)")
    login(viewer)
    open_scoring_menu(page, "In-market accounts")
    expect(page).to_have_url(re.compile(r"/scoring/in-market/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("In-market accounts")
    rows = page.locator("#inmarket-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Acme Analytics")
    top_reason = rows.first.get_by_title("+0.61 log-odds")
    expect(top_reason).to_contain_text("in the last 30 days: +15 pts (strong raise)")
    expect(page.locator('#stage-counts a[data-stage="decision"] .stage-count')).to_have_text("2")
    # Filter by stage with the form.
    page.locator("#id_stage").select_option("decision")
    page.locator("#filter-form").get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"stage=decision"))
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Globex")
    expect(rows.nth(1)).to_contain_text("Initech")
    page.screenshot(path="/tmp/ui-inmarket.png", full_page=True)
    rows.first.get_by_role("link", name="Globex").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{globex.pk}/"))
    scores_card = page.locator("#learned-scores")
    expect(scores_card).to_have_attribute("data-loaded", "true")
    expect(scores_card.locator("#score-in-market")).to_have_text("41.0%")
    expect(scores_card.locator("#score-stage")).to_have_text("Decision")
    explanation = scores_card.locator("#score-explanation li")
    expect(explanation).to_have_count(2)
    expect(explanation.first).to_contain_text(
        "7 research-page visits (pricing, comparisons, case studies) in the last 30 days"
    )
    expect(explanation.first).to_have_class(re.compile("text-success"))
    expect(explanation.nth(1)).to_have_class(re.compile("text-danger"))
    # Reasons in percentage points of the account's 41% (0.61 log-odds: 14 points; -0.2: 5 fewer), with a
    # strength word; the log-odds in the tooltip.
    points = explanation.locator(".score-points")
    expect(points.first).to_have_text("▲ +14 pts")
    expect(points.first).to_have_attribute("title", "+0.61 log-odds")
    expect(explanation.first.locator(".score-strength")).to_have_text("· strong raise")
    expect(points.nth(1)).to_have_text("▼ -5 pts")
    expect(points.nth(1)).to_have_attribute("title", "-0.20 log-odds")
    expect(scores_card.locator("#score-explanation")).not_to_contain_text("+0.61")
    expect_drawn(page, "#score-history-chart")
    expect(scores_card.locator("#stage-transitions")).to_contain_text("in market 0.41 ≥ 0.30 (decision)")
    page.screenshot(path="/tmp/ui-account-scores.png", full_page=True)
    assert js_errors == []


def test_an_account_without_a_learned_score_says_so(page, login, viewer, js_errors):
    from tests.accounts.factories import AccountFactory

    account = AccountFactory(name="Brand new")
    login(viewer)
    page.goto(f"/accounts/{account.pk}/")
    expect(page.locator("#learned-scores")).to_contain_text("Not scored yet")
    expect(page.locator("#firmographics")).to_be_visible()
    assert js_errors == []


def test_a_challenger_side_by_side_with_the_champion_then_promoted(page, login, revops_admin, js_errors):
    champion = ScoringModelFactory(
        status=ScoringModelStatus.CHAMPION, promoted_at=timezone.now(), metrics=backtest_report(0.8100)
    )
    challenger = ScoringModelFactory(metrics=backtest_report(0.8250, fold_aucs=(0.83, 0.81)))
    login(revops_admin)
    page.goto("/scoring/models/")
    page.locator(f'tr[data-model="{challenger.pk}"] a.compare-link').click()
    expect(page).to_have_url(re.compile(rf"/scoring/models/{challenger.pk}/compare/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"version {challenger.version} beside the champion, version {champion.version}"
    )
    auc = page.locator('#compare-table tr[data-figure="roc_auc"]')
    expect(auc.locator('[data-side="champion"]')).to_have_text("0.810")
    expect(auc.locator('[data-side="challenger"]')).to_have_text("0.825")
    expect(auc.locator('[data-side="difference"]')).to_have_text("+0.015")
    expect(page.locator("#compare-significance")).to_contain_text("the challenger ranks better on 1")
    expect(page.locator("#decision-outcome")).to_have_text("Promote")
    expect(page.locator("#decision-reason")).to_contain_text("beats champion")
    page.screenshot(path="/tmp/ui-model-compare.png", full_page=True)
    page.locator("#promote-reason").fill("Better on the last two test dates")
    page.locator("#promote-form").get_by_role("button", name=f"Promote version {challenger.version}").click()
    expect(page).to_have_url(re.compile(rf"/scoring/models/{challenger.pk}/$"))
    expect(page.locator("h1 .model-status")).to_have_text("Champion")
    champion.refresh_from_db()
    assert champion.status == ScoringModelStatus.RETIRED
    assert js_errors == []


def test_a_training_job_moves_in_fine_steps_with_an_estimate(page, login, viewer, js_errors):
    job = JobRun.objects.create(
        kind="train", status=JobStatus.RUNNING, total=STEPS, progress=250,
        started_at=timezone.now() - datetime.timedelta(minutes=3),
        message="In-market model: backtest fold 2 of 3: logistic regression …",
    )  # fmt: skip
    login(viewer)
    page.goto(f"/scoring/models/jobs/{job.pk}/")
    expect(page.locator("#job-progress .progress-bar")).to_have_text("25%")
    expect(page.locator("#job-estimate")).to_have_text(re.compile(r"^about (9|10|11) min left$"))
    # The worker moves on: the next poll shows it.
    JobRun.objects.filter(pk=job.pk).update(
        progress=500, message="In-market model: feature groups: refit 2 of 9 …"
    )
    expect(page.locator("#job-progress .progress-bar")).to_have_text("50%")
    expect(page.locator("#job-phase")).to_contain_text("feature groups: refit 2 of 9")
    expect(page.locator("#job-estimate")).to_contain_text("min left")
    assert js_errors == []
