"""The learned-score pages: model versions and their backtest report, retrain / backtest / rescore jobs,
promote and roll back, the in-market accounts list, and the Scores section of the account page — who may
see and do what, what each page shows, bad input, and bounded query counts."""

import datetime

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from revops.choices import JobStatus
from revops.models import ChangeRecord, JobRun
from scoring.choices import Band, BuyingStage, ScoringModelKind, ScoringModelStatus
from scoring.learned import backtest as B
from scoring.models import AccountModelScore, ColumnDecision, QualificationPolicy, ScoringModel
from tests.accounts.factories import AccountFactory
from tests.revops.factories import UserFactory
from tests.scoring.factories import (
    AccountModelScoreFactory,
    AccountModelScoreHistoryFactory,
    BacktestJobFactory,
    BuyingStageTransitionFactory,
    ScoringModelFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ("xgboost", "logistic_regression", "naive_bayes", "rules", "ground_truth")
QUALITY = {
    "xgboost": 0.82,
    "logistic_regression": 0.78,
    "naive_bayes": 0.71,
    "rules": 0.66,
    "ground_truth": 0.84,
}


# --- data -----------------------------------------------------------------------------------------------
def _figures(name: str, auc: float, *, curves: bool) -> dict:
    """One model's metrics as ``backtest.metrics`` returns them, plus (optionally) its curves."""
    strength = (auc - 0.5) * 2  # 0 = chance, 1 = perfect
    out = {
        "rows": 1200,
        "positives": 96,
        "base_rate": 0.08,
        "roc_auc": auc,
        "pr_auc": round(0.08 + 0.4 * strength, 4),
        "top_decile_lift": round(1 + 3 * strength, 3),
        "top_decile_capture": round(0.1 + 0.35 * strength, 4),
        "precision_at_100": round(0.08 + 0.3 * strength, 4),
        "precision_at_5pct": round(0.08 + 0.35 * strength, 4),
        "brier": None if name == "rules" else round(0.075 - 0.01 * strength, 4),
        "calibration": None
        if name == "rules"
        else {"predicted": [0.02, 0.1, 0.25, 0.45], "observed": [0.02, 0.09, 0.22, 0.41]},
    }
    if curves:
        fpr = [i / 10 for i in range(11)]
        out["roc_curve"] = {"fpr": fpr, "tpr": [round(min(1.0, x ** (1 - strength * 0.8)), 4) for x in fpr]}
        lift = [round(max(0.2, 1 + 3 * strength * (1 - i / 5)), 3) for i in range(10)]
        out["lift_by_decile"] = lift
        out["capture_by_decile"] = [round(min(1.0, sum(lift[: i + 1]) / sum(lift)), 4) for i in range(10)]
        out["score_histogram"] = {
            "edges": [i / 10 for i in range(11)],
            "positives": [2, 4, 6, 8, 10, 12, 14, 14, 13, 13],
            "negatives": [400, 250, 150, 110, 80, 50, 30, 20, 10, 4],
        }
    return out


def realistic_report(*, curves: bool = True, ground_truth: bool = True) -> dict:
    """A small report in the shape ``scoring.learned.backtest.run`` returns: three rolling-origin folds."""
    names = [m for m in MODELS if ground_truth or m != "ground_truth"]
    months = ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]
    folds = [
        {
            "train_dates": months[: 2 + k],
            "validation_dates": [months[2 + k]],
            "test_dates": [months[3 + k]],
            "train_rows": 1200 * (3 + k),
            "models": {m: _figures(m, QUALITY[m] - 0.01 * k, curves=False) for m in names},
        }
        for k in range(3)
    ]
    return {
        "kind": "in_market",
        "as_of": "2024-09-30",
        "horizon_days": 90,
        "snapshot_dates": months,
        "features": ["research_30d", "log_employees", "engaged_contacts_30d", "opportunities_open"],
        "top_keys": [],
        "folds": folds,
        "models": {m: _figures(m, QUALITY[m], curves=curves) for m in names},
        "leakage_warnings": [
            {"feature": "opportunities_open", "auc": 0.97, "warning": "predicts the label on its own"}
        ],
        "notes": {
            "rules": "fit + engagement of the published ruleset as of each test date; not a probability",
            "ground_truth": "the demo generator's true propensity for the same window (demo data only)",
        },
        "seconds": {"features": 1.2, "total": 8.5},
    }


def champion_with_history(**kwargs) -> ScoringModel:
    """A retired former champion (v1) and the current champion (v2) with a realistic report."""
    ScoringModelFactory(
        status=ScoringModelStatus.RETIRED,
        promoted_at=timezone.now() - datetime.timedelta(days=30),
        reason="Replaced by v2.",
    )
    return ScoringModelFactory(
        status=ScoringModelStatus.CHAMPION,
        promoted_at=timezone.now(),
        metrics=realistic_report(),
        features=["research_30d", "log_employees", "engaged_contacts_30d", "opportunities_open"],
        params={"max_depth": 3, "learning_rate": 0.03, "n_estimators": 240, "top_keys": list(range(40))},
        reason="Backtest ROC AUC 0.8200 beats champion v1 (0.8000) by at least 0.005.",
        **kwargs,
    )


@pytest.fixture
def models():
    champion = champion_with_history()
    weaker = realistic_report(curves=False)
    weaker["models"]["xgboost"]["roc_auc"] = 0.8161
    challenger = ScoringModelFactory(metrics=weaker, reason="Does not beat the champion.")
    return {"champion": champion, "challenger": challenger, "retired": ScoringModel.objects.get(version=1)}


@pytest.fixture
def scores(models):
    """Accounts across the buying stages, each with its stored top contributions."""
    rows = [
        ("Acme Analytics", 0.62, 81, Band.HIGH, Band.HIGH, True, BuyingStage.PURCHASE),
        ("Globex", 0.41, 70, Band.HIGH, Band.HIGH, True, BuyingStage.DECISION),
        ("Initech", 0.18, 55, Band.MEDIUM, Band.MEDIUM, False, BuyingStage.CONSIDERATION),
        ("Umbrella", 0.08, 35, Band.LOW, Band.LOW, False, BuyingStage.AWARENESS),
        ("Hooli", 0.02, 20, Band.LOW, Band.LOW, False, BuyingStage.TARGET),
    ]
    out = {}
    for name, p, fit, in_band, fit_band, qualified, stage in rows:
        out[name] = AccountModelScoreFactory(
            account=AccountFactory(name=name),
            model=models["champion"],
            in_market=p,
            profile_fit=fit,
            in_market_band=in_band,
            fit_band=fit_band,
            qualified=qualified,
            stage=stage,
            stage_since=timezone.now() - datetime.timedelta(days=12),
            contributions=[["research_30d", 7.0, 0.61], ["log_employees", 3.0, -0.2]],
        )
    return out


def logged_in(client, user):
    client.force_login(user)
    return client


def user_with(*codenames: str):
    """A user (in no team) with exactly these permissions, ``app_label.codename``."""
    user = UserFactory()
    for code in codenames:
        app, codename = code.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


def page_urls(models, scores, job) -> list[str]:
    account = scores["Acme Analytics"].account
    return [
        reverse("scoring:model_list"),
        reverse("scoring:model_detail", kwargs={"pk": models["champion"].pk}),
        reverse("scoring:model_detail", kwargs={"pk": models["challenger"].pk}),
        reverse("scoring:model_job", kwargs={"pk": job.pk}),
        reverse("scoring:model_job_status", kwargs={"pk": job.pk}),
        reverse("scoring:inmarket_list"),
        reverse("scoring:account_scores", kwargs={"pk": account.pk}),
    ]


def post_urls(models) -> list[str]:
    return [
        reverse("scoring:model_train"),
        reverse("scoring:model_backtest"),
        reverse("scoring:model_promote", kwargs={"pk": models["challenger"].pk}),
        reverse("scoring:model_rollback", kwargs={"pk": models["champion"].pk}),
        reverse("scoring:accounts_rescore"),
    ]


# --- who may see and do what ------------------------------------------------------------------------------
def test_every_page_renders_for_a_viewer_without_the_buttons(client, viewer, models, scores):
    job = BacktestJobFactory(result=realistic_report())
    logged_in(client, viewer)
    for url in page_urls(models, scores, job):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for button in ("Retrain now", "Run backtest", "Promote to champion", "Roll back", "Rescore accounts"):
            assert button not in html, (url, button)


def test_outsiders_get_403_and_anonymous_visitors_the_login_page(client, outsider, models, scores):
    job = BacktestJobFactory()
    for url in page_urls(models, scores, job):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    logged_in(client, outsider)
    for url in page_urls(models, scores, job):
        assert client.get(url).status_code == 403, url
    for url in post_urls(models):
        assert client.post(url, {"reason": "because"}).status_code == 403, url


def test_viewer_posts_are_denied_and_change_nothing(client, viewer, models):
    logged_in(client, viewer)
    jobs_before = JobRun.objects.count()
    for url in post_urls(models):
        assert client.post(url, {"reason": "because"}).status_code == 403, url
    assert JobRun.objects.count() == jobs_before
    models["champion"].refresh_from_db()
    assert models["champion"].status == ScoringModelStatus.CHAMPION


def test_admin_sees_the_buttons(client, revops_admin, models, scores):
    logged_in(client, revops_admin)
    html = client.get(reverse("scoring:model_list")).content.decode()
    assert "Retrain now" in html and "Run backtest" in html
    html = client.get(reverse("scoring:model_detail", kwargs={"pk": models["champion"].pk})).content.decode()
    assert 'id="rollback-form"' in html and 'id="promote-form"' not in html
    html = client.get(
        reverse("scoring:model_detail", kwargs={"pk": models["challenger"].pk})
    ).content.decode()
    assert 'id="promote-form"' in html and 'id="rollback-form"' not in html
    assert "Rescore accounts" in client.get(reverse("scoring:inmarket_list")).content.decode()


def test_navigation_offers_the_pages_by_permission(client, viewer, outsider):
    logged_in(client, viewer)
    html = client.get("/").content.decode()
    assert reverse("scoring:model_list") in html and reverse("scoring:inmarket_list") in html
    # Models only: the in-market list also needs to see accounts.
    client.force_login(user_with("scoring.view_scoringmodel"))
    html = client.get("/").content.decode()
    assert reverse("scoring:model_list") in html and reverse("scoring:inmarket_list") not in html
    assert reverse("scoring:ruleset_list") not in html
    client.force_login(outsider)
    html = client.get("/").content.decode()
    assert reverse("scoring:model_list") not in html and 'id="nav-scoring"' not in html


# --- models -------------------------------------------------------------------------------------------------
def test_model_list_shows_versions_with_their_backtest_figures(client, viewer, models):
    response = logged_in(client, viewer).get(reverse("scoring:model_list"))
    rows = response.context["object_list"]
    assert [m.version for m in rows] == [3, 2, 1]  # newest first
    html = response.content.decode()
    assert "0.820" in html  # the champion's backtest ROC AUC
    assert "Does not beat the champion." in html
    assert 'id="champions"' in html


def test_model_list_filters_by_status_and_sorts_by_roc_auc(client, viewer, models):
    logged_in(client, viewer)
    response = client.get(reverse("scoring:model_list"), {"status": "champion"})
    assert [m.pk for m in response.context["object_list"]] == [models["champion"].pk]
    response = client.get(reverse("scoring:model_list"), {"sort": "-roc_auc"})
    assert response.context["object_list"][0].pk == models["champion"].pk
    response = client.get(reverse("scoring:model_list"), {"status": "nonsense"})
    assert response.context["filter_form"].errors and not response.context["object_list"]


def test_model_detail_shows_the_report_as_charts_and_tables(client, viewer, models):
    model = models["champion"]
    response = logged_in(client, viewer).get(reverse("scoring:model_detail", kwargs={"pk": model.pk}))
    html = response.content.decode()
    # Leakage warnings come first and are hard to miss.
    assert 'id="leakage-warnings"' in html and "opportunities_open" in html
    assert html.index("leakage-warnings") < html.index("comparison-table")
    comparison = response.context["comparison"]
    assert [row["name"] for row in comparison] == list(MODELS)
    xgboost = comparison[0]
    assert [c["text"] for c in xgboost["cells"]][:2] == ["0.820", "0.336"]
    # The best real model is marked; the ground truth is the ceiling, not a competitor.
    assert xgboost["cells"][0]["best"] and not comparison[-1]["cells"][0]["best"]
    assert comparison[3]["cells"][5]["text"] == "—"  # the rules score has no Brier
    for chart in ("roc", "calibration", "lift", "capture"):
        assert f'id="report-{chart}"' in html and f'id="report-{chart}-data"' in html, chart
    charts = response.context["charts"]
    assert len(charts["roc"]["series"]) == 5 and charts["roc"]["series"][-1]["dashed"]
    assert len(charts["calibration"]["series"]) == 4  # not the rules score
    assert len(charts["distributions"]) == 5
    assert abs(sum(charts["distributions"][0]["chart"]["series"][0]["values"]) - 1) < 0.01
    # The per-fold table, features, parameters, window and checksum.
    assert len(response.context["folds"]) == 3 and "2024-04-30" in html
    assert "engaged_contacts_30d" in html and "learning_rate" in html
    assert "top_keys" in response.context["params_omitted"]
    assert model.artefact_sha256 in html and "31 Jan 2024" in html and "31 May 2024" in html
    assert "learned_charts.js" in html and "chart.umd.min.js" in html


def test_an_old_report_without_curves_still_renders(client, viewer, models):
    model = models["challenger"]  # the same report without ROC points, deciles or histograms
    response = logged_in(client, viewer).get(reverse("scoring:model_detail", kwargs={"pk": model.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "no ROC points" in html and "no lift by decile" in html and "no score histograms" in html
    assert 'id="report-calibration"' in html  # calibration was always in the report
    assert 'id="comparison-table"' in html


def test_model_page_draws_the_curves_backtest_metrics_records(client, viewer):
    """The report keys ``backtest.metrics`` writes are the ones the charts read: every chart has data."""
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.08).astype(int)
    report = realistic_report(curves=False)
    for name in MODELS:
        score = np.clip(0.08 + 0.2 * y * QUALITY[name] + rng.normal(0, 0.1, len(y)), 0, 1)
        if name == "rules":
            score = np.round(score * 120)
        report["models"][name] = B.metrics(y, score, probability=name != "rules")
    model = ScoringModelFactory(metrics=report)
    response = logged_in(client, viewer).get(reverse("scoring:model_detail", kwargs={"pk": model.pk}))
    html = response.content.decode()
    charts = response.context["charts"]
    for chart in ("roc", "lift", "capture"):
        assert f'id="report-{chart}-data"' in html, chart
        assert charts[chart]["series"][-1]["dashed"]  # the ground truth, last
        assert len(charts[chart]["series"]) == 5, chart
    assert all(2 < len(s["points"]) <= B.ROC_POINTS + 2 for s in charts["roc"]["series"])
    assert charts["lift"]["labels"] == [f"{i}0%" for i in range(1, 11)]
    assert all(len(s["values"]) == 10 for s in charts["lift"]["series"] + charts["capture"]["series"])
    assert all(s["values"][-1] == 1.0 for s in charts["capture"]["series"])
    distributions = {d["name"]: d for d in charts["distributions"]}
    assert set(distributions) == set(MODELS)
    for name, distribution in distributions.items():
        assert f'id="chart-distribution-{name}-data"' in html, name
        positives, negatives = distribution["chart"]["series"]
        assert len(distribution["chart"]["labels"]) == len(positives["values"]) == B.HISTOGRAM_BINS
        assert sum(positives["values"]) == pytest.approx(1, abs=0.01)
        assert sum(negatives["values"]) == pytest.approx(1, abs=0.01)
    assert distributions["xgboost"]["chart"]["labels"][0] == "0–0.05"
    # A points total is binned over its own range, not 0..1.
    assert report["models"]["rules"]["score_histogram"]["edges"][-1] > 1
    assert "no ROC points" not in html and "no score histograms" not in html


def test_a_version_without_report_or_with_a_cross_validated_one_renders(client, viewer):
    empty = ScoringModelFactory(metrics={}, features=[], params={})
    fold = {"fold": 1, "train_rows": 800, "test_rows": 200}
    fold["models"] = {"xgboost": _figures("xgboost", 0.7, curves=False)}
    pooled = {
        "xgboost": _figures("xgboost", 0.7, curves=True),
        "naive_bayes": _figures("naive_bayes", 0.6, curves=False),
    }
    cv = ScoringModelFactory(
        kind=ScoringModelKind.ACCOUNT_FIT,
        metrics={"validation": "cross_validation", "folds": [fold], "models": pooled},
    )
    logged_in(client, viewer)
    html = client.get(reverse("scoring:model_detail", kwargs={"pk": empty.pk})).content.decode()
    assert "No backtest figures" in html
    response = client.get(reverse("scoring:model_detail", kwargs={"pk": cv.pk}))
    html = response.content.decode()
    assert "cross-validated split" in html and "Fold 1" in html and 'id="report-roc"' in html


# --- jobs ---------------------------------------------------------------------------------------------------
def test_retrain_now_creates_a_job_and_shows_its_progress(client, revops_admin, models):
    logged_in(client, revops_admin)
    response = client.post(
        reverse("scoring:model_train"),
        {"reason": "new quarter", "horizon_days": "60", "folds": "2", "margin": "0.01"},
    )
    job = JobRun.objects.get(kind="train")
    assert response.status_code == 302 and response["Location"] == reverse(
        "scoring:model_job", kwargs={"pk": job.pk}
    )
    assert (
        job.params["horizon_days"] == 60
        and job.params["folds"] == 2
        and job.params["reason"] == "new quarter"
    )
    assert job.created_by == revops_admin and job.status == JobStatus.PENDING
    html = client.get(response["Location"]).content.decode()
    status_url = reverse("scoring:model_job_status", kwargs={"pk": job.pk})
    assert f'hx-get="{status_url}"' in html and "Retraining the models" in html
    # Polling: the fragment keeps its trigger while the job runs and reloads the page when it is done.
    fragment = client.get(status_url, HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in fragment.content.decode() and "HX-Refresh" not in fragment
    new = ScoringModelFactory()
    job.status, job.finished_at = JobStatus.SUCCEEDED, timezone.now()
    job.result = {"in_market": {"id": new.pk, "version": new.version, "status": "challenger"}}
    job.save()
    fragment = client.get(status_url, HTTP_HX_REQUEST="true")
    assert fragment["HX-Refresh"] == "true" and "hx-trigger" not in fragment.content.decode()
    html = client.get(response["Location"]).content.decode()
    assert reverse("scoring:model_detail", kwargs={"pk": new.pk}) in html


def test_a_bare_retrain_button_uses_the_defaults(client, revops_admin):
    logged_in(client, revops_admin).post(reverse("scoring:model_train"))
    job = JobRun.objects.get(kind="train")
    assert (job.params["horizon_days"], job.params["folds"], job.params["margin"]) == (90, 3, 0.005)


def test_bad_retrain_input_starts_nothing_and_says_why(client, revops_admin):
    logged_in(client, revops_admin)
    response = client.post(reverse("scoring:model_train"), {"horizon_days": "2", "folds": "x"}, follow=True)
    assert not JobRun.objects.exists()
    html = response.content.decode()
    assert "Nothing was started" in html and "Horizon (days)" in html and "Backtest folds" in html


def test_run_backtest_creates_a_job_whose_report_is_shown_when_done(client, revops_admin):
    logged_in(client, revops_admin)
    response = client.post(reverse("scoring:model_backtest"), {"horizon_days": "90", "folds": "3"})
    job = JobRun.objects.get(kind="backtest")
    assert response["Location"] == reverse("scoring:model_job", kwargs={"pk": job.pk})
    assert job.params == {"as_of": None, "horizon_days": 90, "folds": 3}
    html = client.get(response["Location"]).content.decode()
    assert "Backtest of the in-market model" in html and 'id="comparison-table"' not in html
    job.status, job.finished_at, job.result = JobStatus.SUCCEEDED, timezone.now(), realistic_report()
    job.save()
    html = client.get(response["Location"]).content.decode()
    assert 'id="comparison-table"' in html and 'id="report-roc"' in html and "learned_charts.js" in html


def test_rescore_accounts_starts_the_full_rescore(client, revops_admin, django_capture_on_commit_callbacks):
    logged_in(client, revops_admin)
    response = client.post(reverse("scoring:accounts_rescore"), {"reason": "policy changed"})
    job = JobRun.objects.get(kind="rescore")
    assert response["Location"] == reverse("scoring:model_job", kwargs={"pk": job.pk})
    assert job.params["reason"] == "policy changed"
    assert client.get(response["Location"]).status_code == 200


# --- promote and roll back ---------------------------------------------------------------------------------
def test_promote_makes_the_challenger_champion_and_is_audited(client, revops_admin, models):
    logged_in(client, revops_admin)
    challenger, champion = models["challenger"], models["champion"]
    url = reverse("scoring:model_promote", kwargs={"pk": challenger.pk})
    response = client.post(url, {"reason": "better on the last quarter"}, follow=True)
    challenger.refresh_from_db()
    champion.refresh_from_db()
    assert (challenger.status, champion.status) == (ScoringModelStatus.CHAMPION, ScoringModelStatus.RETIRED)
    assert challenger.reason == "better on the last quarter"
    assert "champion now" in response.content.decode()
    assert ChangeRecord.objects.filter(
        object_id=str(challenger.pk), action="update", actor=revops_admin
    ).exists()


def test_a_leakage_warning_is_decided_on_the_model_page_and_audited(client, revops_admin, models):
    challenger = models["challenger"]
    url = reverse("scoring:model_detail", kwargs={"pk": challenger.pk})
    page = logged_in(client, revops_admin).get(url).content.decode()
    assert 'data-column="opportunities_open" data-status="unresolved"' in page
    assert "Known before the outcome" in page and "Exclude from training" in page
    decide = reverse("scoring:model_column_decision", kwargs={"pk": challenger.pk})
    data = {"column": "opportunities_open", "decision": "excluded", "note": "a sales field"}
    response = client.post(decide, data, follow=True)
    assert "is left out of training for every in market" in response.content.decode()
    decision = ColumnDecision.objects.get(kind="in_market", column="opportunities_open")
    assert (decision.decision, decision.decided_by, decision.note) == (
        "excluded",
        revops_admin,
        "a sales field",
    )
    assert ChangeRecord.objects.filter(
        object_id=str(decision.pk), actor=revops_admin, action="create"
    ).exists()
    page = client.get(url).content.decode()
    assert 'data-status="excluded"' in page and "a sales field" in page
    # Every version of the kind shows the decision (it is the column's, not the version's).
    other = client.get(reverse("scoring:model_detail", kwargs={"pk": models["champion"].pk})).content.decode()
    assert 'data-status="excluded"' in other
    # A change of mind is an update, audited too.
    client.post(decide, {"column": "opportunities_open", "decision": "confirmed"})
    decision.refresh_from_db()
    assert decision.decision == "confirmed"
    assert ChangeRecord.objects.filter(object_id=str(decision.pk), action="update").exists()


def test_a_leakage_decision_needs_the_right_and_a_column_the_version_warned_about(
    client, viewer, revops_admin, models
):
    decide = reverse("scoring:model_column_decision", kwargs={"pk": models["challenger"].pk})
    assert (
        logged_in(client, viewer)
        .post(decide, {"column": "opportunities_open", "decision": "excluded"})
        .status_code
        == 403
    )
    page = client.get(
        reverse("scoring:model_detail", kwargs={"pk": models["challenger"].pk})
    ).content.decode()
    assert "Exclude from training" not in page  # a viewer sees the warning, not the buttons
    logged_in(client, revops_admin)
    for data in (
        {"column": "log_employees", "decision": "excluded"},
        {"column": "opportunities_open", "decision": "maybe"},
        {},
    ):
        response = client.post(decide, data, follow=True)
        assert "Pick a column one of this version" in response.content.decode()
    assert not ColumnDecision.objects.exists()


def test_promote_without_a_reason_changes_nothing(client, revops_admin, models):
    logged_in(client, revops_admin)
    url = reverse("scoring:model_promote", kwargs={"pk": models["challenger"].pk})
    response = client.post(url, {"reason": "  "}, follow=True)
    assert "Say why" in response.content.decode()
    models["challenger"].refresh_from_db()
    assert models["challenger"].status == ScoringModelStatus.CHALLENGER


def test_roll_back_gives_the_place_back_to_the_previous_champion(client, revops_admin, models):
    logged_in(client, revops_admin)
    url = reverse("scoring:model_rollback", kwargs={"pk": models["champion"].pk})
    response = client.post(url, {"reason": "v2 scores look wrong"})
    previous, champion = models["retired"], models["champion"]
    previous.refresh_from_db()
    champion.refresh_from_db()
    assert (previous.status, champion.status) == (ScoringModelStatus.CHAMPION, ScoringModelStatus.CHALLENGER)
    assert response["Location"] == reverse("scoring:model_detail", kwargs={"pk": previous.pk})
    assert ChangeRecord.objects.filter(object_id=str(previous.pk), actor=revops_admin).exists()


def test_roll_back_from_a_stale_page_is_refused(client, revops_admin, models):
    logged_in(client, revops_admin)
    url = reverse("scoring:model_rollback", kwargs={"pk": models["challenger"].pk})
    response = client.post(url, {"reason": "oops"}, follow=True)
    assert "not the champion" in response.content.decode()
    models["champion"].refresh_from_db()
    assert models["champion"].status == ScoringModelStatus.CHAMPION


def test_roll_back_without_an_earlier_champion_says_so(client, revops_admin):
    only = ScoringModelFactory(status=ScoringModelStatus.CHAMPION, promoted_at=timezone.now())
    logged_in(client, revops_admin)
    assert (
        'id="rollback-form"'
        not in client.get(reverse("scoring:model_detail", kwargs={"pk": only.pk})).content.decode()
    )
    response = client.post(
        reverse("scoring:model_rollback", kwargs={"pk": only.pk}), {"reason": "x"}, follow=True
    )
    assert "No earlier champion" in response.content.decode()
    only.refresh_from_db()
    assert only.status == ScoringModelStatus.CHAMPION


# --- in-market accounts -----------------------------------------------------------------------------------
def names(response) -> list[str]:
    return [score.account.name for score in response.context["object_list"]]


def test_in_market_list_orders_by_probability_and_counts_stages(client, viewer, scores):
    response = logged_in(client, viewer).get(reverse("scoring:inmarket_list"))
    assert names(response) == ["Acme Analytics", "Globex", "Initech", "Umbrella", "Hooli"]
    assert {s["value"]: s["count"] for s in response.context["stages"]} == {
        "target": 1, "awareness": 1, "consideration": 1, "decision": 1, "purchase": 1,
    }  # fmt: skip
    html = response.content.decode()
    assert "62.0%" in html and "Qualified" in html
    # The top reason is the largest contribution that raised the probability, in words.
    reasons = {row.account.name: row.top_reason for row in response.context["object_list"]}
    # As the points it adds to the account's 62% (15 points: 47% without it), the log-odds in the title.
    top = reasons["Acme Analytics"]
    assert (top["feature"], top["contribution"], top["points"], top["strength"]) == (
        "research_30d",
        0.61,
        "+15 pts",
        "strong raise",
    )
    words = (
        "7 research-page visits (pricing, comparisons, case studies) in the last 30 days: "
        "+15 pts (strong raise)"
    )
    assert top["words"] == words
    assert f'title="+0.61 log-odds">{words}</span>' in html
    assert reverse("accounts:account_detail", kwargs={"pk": scores["Globex"].account_id}) in html


def test_in_market_list_gives_the_reason_that_raised_the_probability(client, viewer, scores):
    AccountModelScore.objects.filter(pk=scores["Globex"].pk).update(
        contributions=[
            ["customer", 0.0, -0.9],
            ["engaged_contacts_30d", 3.0, 0.4],
            ["research_30d", 2.0, 0.1],
        ]
    )
    AccountModelScore.objects.filter(pk=scores["Hooli"].pk).update(
        contributions=[["log_employees", 1.1, -0.3]]
    )
    response = logged_in(client, viewer).get(reverse("scoring:inmarket_list"))
    reasons = {row.account.name: row.top_reason for row in response.context["object_list"]}
    assert reasons["Globex"]["words"] == "3 people engaged in the last 30 days: +9 pts (moderate raise)"
    assert reasons["Hooli"] is None  # nothing raised it: no reason to give
    assert "is not a customer yet" not in response.content.decode()


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"stage": "decision"}, ["Globex"]),
        ({"stage": ["decision", "purchase"]}, ["Acme Analytics", "Globex"]),
        ({"qualified": "false"}, ["Initech", "Umbrella", "Hooli"]),
        ({"fit_band": "medium"}, ["Initech"]),
        ({"in_market_band": ["high", "medium"]}, ["Acme Analytics", "Globex", "Initech"]),
        ({"in_market_min": "0.4"}, ["Acme Analytics", "Globex"]),
        ({"q": "glob"}, ["Globex"]),
        ({"sort": "fit"}, ["Hooli", "Umbrella", "Initech", "Globex", "Acme Analytics"]),
        ({"sort": "-fit", "qualified": "true"}, ["Acme Analytics", "Globex"]),
    ],
)
def test_in_market_list_filters_and_sorts(client, viewer, scores, query, expected):
    response = logged_in(client, viewer).get(reverse("scoring:inmarket_list"), query)
    assert response.status_code == 200
    assert names(response) == expected


def test_stage_counts_follow_the_other_filters_but_not_the_stage(client, viewer, scores):
    response = logged_in(client, viewer).get(
        reverse("scoring:inmarket_list"), {"qualified": "true", "stage": "decision"}
    )
    counts = {s["value"]: s["count"] for s in response.context["stages"]}
    assert counts == {"target": 0, "awareness": 0, "consideration": 0, "decision": 1, "purchase": 1}
    assert [s["value"] for s in response.context["stages"] if s["active"]] == ["decision"]
    assert names(response) == ["Globex"]


def test_a_non_numeric_minimum_probability_is_a_clear_form_error(client, viewer, scores):
    response = logged_in(client, viewer).get(reverse("scoring:inmarket_list"), {"in_market_min": "lots"})
    assert response.status_code == 200
    assert response.context["filter_form"].errors == {"in_market_min": ["Enter a number."]}
    html = response.content.decode()
    assert "Fix the filters marked in red" in html and "Enter a number." in html and "is-invalid" in html
    assert names(response) == []


def test_in_market_list_is_paginated(client, viewer, models):
    for i in range(30):
        AccountModelScoreFactory(in_market=i / 100, model=models["champion"])
    logged_in(client, viewer)
    first = client.get(reverse("scoring:inmarket_list"), {"per_page": 25})
    assert len(first.context["object_list"]) == 25 and first.context["page"].has_next
    second = client.get(reverse("scoring:inmarket_list"), {"per_page": 25, "page": 2})
    assert len(second.context["object_list"]) == 5 and not second.context["page"].has_next


def test_in_market_list_without_scores_says_what_to_do(client, viewer):
    html = logged_in(client, viewer).get(reverse("scoring:inmarket_list")).content.decode()
    assert "No account has a learned score yet" in html


# --- the account page ---------------------------------------------------------------------------------------
def test_account_page_loads_the_scores_section_for_those_who_may_see_it(client, viewer, scores):
    account = scores["Globex"].account
    url = reverse("accounts:account_detail", kwargs={"pk": account.pk})
    html = logged_in(client, viewer).get(url).content.decode()
    assert f'hx-get="{reverse("scoring:account_scores", kwargs={"pk": account.pk})}"' in html
    assert "learned_charts.js" in html
    client.force_login(user_with("accounts.view_account"))
    response = client.get(url)
    assert response.status_code == 200 and 'id="learned-scores"' not in response.content.decode()


def test_account_scores_section_shows_scores_explanation_history_and_transitions(
    client, viewer, scores, models
):
    score = scores["Globex"]
    account = score.account
    for days, p in ((20, 0.12), (10, 0.3), (1, 0.41)):
        AccountModelScoreHistoryFactory(
            account=account,
            in_market=p,
            profile_fit=60 + days,
            scored_at=timezone.now() - datetime.timedelta(days=days),
        )
    BuyingStageTransitionFactory(
        account=account, model=models["champion"], reason="in market 0.33 ≥ 0.30 (decision)"
    )
    url = reverse("scoring:account_scores", kwargs={"pk": account.pk})
    response = logged_in(client, viewer).get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html  # a fragment for htmx
    assert "41.0%" in html and "High" in html and "Decision" in html
    assert f"v{models['champion'].version}" in html and "policy v1" in html
    explanation = response.context["explanation"]
    assert [(e["feature"], e["positive"]) for e in explanation] == [
        ("research_30d", True),
        ("log_employees", False),
    ]
    # Points of the account's 41%: 14 points with the visits than without, 5 fewer with its size.
    assert [(e["description"], e["points"], e["strength"], e["contribution"]) for e in explanation] == [
        (
            "7 research-page visits (pricing, comparisons, case studies) in the last 30 days",
            "+14 pts",
            "strong raise",
            0.61,
        ),
        ("about 19 employees", "-5 pts", "moderate lower", -0.2),  # expm1(3.0) = 19.1
    ]
    assert (
        'title="+0.61 log-odds">▲ +14 pts</span>' in html and 'title="-0.20 log-odds">▼ -5 pts</span>' in html
    )
    assert "7 research-page visits (pricing, comparisons, case studies) in the last 30 days <span" in html
    assert "text-success" in html and "text-danger" in html
    assert response.context["score"].qualified_note == "fits and is in market"
    chart = response.context["history_chart"]
    assert chart["series"][0]["values"] == [0.12, 0.3, 0.41]  # oldest first
    assert 'id="score-history-data"' in html
    assert "in market 0.33 ≥ 0.30 (decision)" in html
    # Opened directly (no htmx), it is a page of its own.
    page = client.get(url).content.decode()
    assert "<html" in page and "learned_charts.js" in page


def test_the_account_page_says_what_a_not_qualified_account_lacks(client, viewer, scores):
    def note(name):
        url = reverse("scoring:account_scores", kwargs={"pk": scores[name].account_id})
        response = logged_in(client, viewer).get(url, HTTP_HX_REQUEST="true")
        return response.context["score"].qualified_note, response.content.decode()

    text, html = note("Initech")  # medium fit (enough), medium in market (high needed)
    assert text == "needs high in market" and text in html
    assert note("Hooli")[0] == "needs medium or high fit and high in market"


def test_an_account_without_a_learned_score_says_not_scored_yet(client, viewer):
    account = AccountFactory(name="Brand new")
    response = logged_in(client, viewer).get(
        reverse("scoring:account_scores", kwargs={"pk": account.pk}), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not scored yet" in html and "No stage change yet" in html and "score-history-data" not in html
    assert client.get(reverse("scoring:account_scores", kwargs={"pk": 987654})).status_code == 404


# --- query counts -------------------------------------------------------------------------------------------
def test_query_counts_do_not_grow_with_the_rows(client, viewer, models, django_assert_max_num_queries):
    for i in range(40):
        score = AccountModelScoreFactory(in_market=i / 50, model=models["champion"])
        AccountModelScoreHistoryFactory(account=score.account)
        BuyingStageTransitionFactory(account=score.account, model=models["champion"])
    for _ in range(10):
        ScoringModelFactory()
    account_id = score.account_id
    for i in range(20):
        AccountModelScoreHistoryFactory(
            account_id=account_id, scored_at=timezone.now() - datetime.timedelta(days=i)
        )
        BuyingStageTransitionFactory(account_id=account_id, model=models["champion"])
    logged_in(client, viewer)
    client.get("/")
    # Session, user, permissions (2), the page's reads, the navbar's teams and notification count (and
    # on the in-market list the segment picker the campaigns app adds, the owner picker and the counts of
    # the net-new / open deal / customer tabs).
    with django_assert_max_num_queries(13):
        assert client.get(reverse("scoring:inmarket_list"), {"per_page": 100}).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(reverse("scoring:model_list"), {"per_page": 100}).status_code == 200
    # The model page reads the audit log by content type: Django caches the content type per process
    # (a test before this one may have cleared that cache), so count a second visit.
    client.get(reverse("scoring:model_detail", kwargs={"pk": models["champion"].pk}))
    with django_assert_max_num_queries(9):
        assert (
            client.get(reverse("scoring:model_detail", kwargs={"pk": models["champion"].pk})).status_code
            == 200
        )
    with django_assert_max_num_queries(9):
        url = reverse("scoring:account_scores", kwargs={"pk": account_id})
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200


def test_the_model_page_keeps_every_status_change_with_its_reason(client, revops_admin, models):
    """The version keeps only its latest reason; the page lists every change from the audit log."""
    logged_in(client, revops_admin)
    challenger, champion = models["challenger"], models["champion"]
    client.post(reverse("scoring:model_promote", kwargs={"pk": challenger.pk}), {"reason": "better lately"})
    client.post(
        reverse("scoring:model_rollback", kwargs={"pk": challenger.pk}), {"reason": "scores look off"}
    )
    response = client.get(reverse("scoring:model_detail", kwargs={"pk": challenger.pk}))
    history = [(c["from"], c["to"], c["reason"], c["actor"]) for c in response.context["status_history"]]
    assert history == [
        ("Champion", "Challenger", "scores look off", revops_admin),
        ("Challenger", "Champion", "better lately", revops_admin),
    ]
    html = response.content.decode()
    assert "better lately" in html and "scores look off" in html
    # The champion it replaced was retired, then got its place back by the roll back.
    page = client.get(reverse("scoring:model_detail", kwargs={"pk": champion.pk}))
    assert [(c["from"], c["to"]) for c in page.context["status_history"]][:2] == [
        ("Retired", "Champion"),
        ("Champion", "Retired"),
    ]


def test_the_model_page_names_the_artefact_file_without_the_servers_folders(
    client, viewer, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    model = ScoringModelFactory(artefact_path=str(tmp_path / "media" / "models" / "in_market" / "v7.json"))
    response = logged_in(client, viewer).get(reverse("scoring:model_detail", kwargs={"pk": model.pk}))
    html = response.content.decode()
    assert response.context["artefact_file"] == "models/in_market/v7.json"
    assert str(tmp_path) not in html
    elsewhere = ScoringModelFactory(artefact_path="/srv/private/revops/v8.json")
    page = client.get(reverse("scoring:model_detail", kwargs={"pk": elsewhere.pk}))
    assert page.context["artefact_file"] == "v8.json" and "/srv/private" not in page.content.decode()


def test_in_market_filters_offer_versions_by_name_not_ids_to_type(client, viewer, scores, models):
    response = logged_in(client, viewer).get(reverse("scoring:inmarket_list"))
    form = response.context["filter_form"]
    model_choices = dict(form.fields["model"].widget.choices)
    assert model_choices[""] == "Any"
    assert model_choices[str(models["champion"].pk)] == f"v{models['champion'].version} (champion)"
    policy = QualificationPolicy.objects.get()
    assert dict(form.fields["policy"].widget.choices)[str(policy.pk)].startswith(f"v{policy.number} ")
    # Picking one filters as the id did (the API's filter is unchanged).
    picked = client.get(reverse("scoring:inmarket_list"), {"model": models["champion"].pk})
    assert names(picked) == ["Acme Analytics", "Globex", "Initech", "Umbrella", "Hooli"]
    assert f'<option value="{models["champion"].pk}" selected>' in picked.content.decode()
    assert names(client.get(reverse("scoring:inmarket_list"), {"model": models["challenger"].pk})) == []


def test_the_dashboard_counts_accounts_by_buying_stage_with_links(client, viewer, scores, outsider):
    response = logged_in(client, viewer).get(reverse("home"))
    stages = response.context["buying_stages"]
    assert [(s["value"], s["accounts"], s["qualified"]) for s in stages["stages"]] == [
        ("target", 1, 0), ("awareness", 1, 0), ("consideration", 1, 0), ("decision", 1, 1),
        ("purchase", 1, 1),
    ]  # fmt: skip
    assert (stages["accounts"], stages["qualified"]) == (5, 2)
    html = response.content.decode()
    assert f'href="{reverse("scoring:inmarket_list")}?stage=decision"' in html
    # Accounts in market: the qualified ones, as the in-market list filtered to them counts them.
    assert f'href="{reverse("scoring:inmarket_list")}?qualified=true" id="accounts-in-market"' in html
    assert ">2 in market (qualified) ›</a>" in html
    # Without the learned scores' permission there is no such card.
    assert "buying_stages" not in logged_in(client, outsider).get(reverse("home")).context


def test_the_account_scores_section_imports_no_machine_learning_library():
    """The section is loaded on every account page: a web process must not pay for importing
    scikit-learn, SciPy or XGBoost (about two seconds) to show stored scores in words. Rendered in a
    fresh process (this one has them all loaded) on a database of its own."""
    import os
    import subprocess
    import sys

    code = """
import os, sys, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.conf import settings
settings.ALLOWED_HOSTS = ["*"]
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from accounts.models import Account
from scoring.models import AccountModelScore, QualificationPolicy
account = Account.objects.create(name="Acme", domain="acme.example")
AccountModelScore.objects.create(
    account=account, policy=QualificationPolicy.objects.first(), in_market=0.4, scored_at=timezone.now(),
    as_of=timezone.now().date(),
    stage_since=timezone.now(), contributions=[["research_30d", 7.0, 0.61]],
)
client = Client()
client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
response = client.get(f"/scoring/accounts/{account.pk}/scores/", HTTP_HX_REQUEST="true")
assert response.status_code == 200 and "7 research-page visits" in response.content.decode()
print(sorted(m for m in ("xgboost", "sklearn", "scipy") if m in sys.modules))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "sqlite://:memory:"}
    env["SCORING_INCREMENTAL"] = "false"  # creating the account must not score it (that path needs them)
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
