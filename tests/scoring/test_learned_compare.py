"""The job page in words (progress, estimate, what a retrain registered) and a challenger beside the
champion: both reports' figures, the difference, and the promote decision."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from revops.choices import JobStatus
from revops.models import JobRun
from scoring.choices import ScoringModelKind, ScoringModelStatus
from scoring.learned.progress import STEPS
from scoring.models import ScoringModel
from tests.scoring.factories import ScoringModelFactory, report

pytestmark = pytest.mark.django_db


def backtest_report(auc: float, *, family: str = "blend", fold_aucs=(0.80, 0.82), groups=None) -> dict:
    """A clean report (no leakage warning) whose shipped family is ``family`` with pooled ROC AUC ``auc``,
    two test dates and what the feature groups earn."""
    out = report(roc_auc=auc)
    out["leakage_warnings"] = []
    out["models"][family] = {**out["models"]["xgboost"], "roc_auc": auc}
    out["champion"] = {"family": family, "roc_auc": auc, "differences": {}}
    out["folds"] = [
        {"test_dates": [day], "train_dates": ["2024-01-31"], "validation_dates": ["2024-02-29"],
         "models": {family: {"roc_auc": fold_auc}}}
        for day, fold_auc in zip(("2024-05-31", "2024-06-30"), fold_aucs, strict=True)
    ]  # fmt: skip
    out["feature_groups"] = {
        "family": family,
        "groups": [
            {"group": g, "label": label, "earns": earns}
            for g, label, earns in groups or [("topics", "Intent topics", 0.03), ("recency", "Recency", 0.01)]
        ],
    }
    out["sampling"] = {"note": "every snapshot row (none sampled)"}
    out["snapshot_dates"] = ["2024-01-31", "2024-02-29", "2024-03-31"]
    return out


@pytest.fixture
def pair():
    champion = ScoringModelFactory(
        status=ScoringModelStatus.CHAMPION,
        promoted_at=timezone.now(),
        metrics=backtest_report(0.8100, fold_aucs=(0.80, 0.82)),
        features=["research_30d", "log_employees", "opportunities_open"],
    )
    challenger = ScoringModelFactory(
        metrics=backtest_report(0.8250, fold_aucs=(0.83, 0.81), groups=[("topics", "Intent topics", 0.05)]),
        features=["research_30d", "log_employees", "engaged_contacts_30d"],
        reason="Trained in a test.",
    )
    return champion, challenger


def page(client, user, name: str, **kwargs) -> str:
    client.force_login(user)
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200
    return response.content.decode()


# --- the job page -------------------------------------------------------------------------------------------
def test_a_running_training_shows_its_percentage_and_an_estimate_once_it_means_something(
    client, revops_admin
):
    job = JobRun.objects.create(
        kind="train", status=JobStatus.RUNNING, total=STEPS, progress=250,
        started_at=timezone.now() - datetime.timedelta(minutes=3),
        message="In-market model: backtest fold 2 of 3: logistic regression …",
    )  # fmt: skip
    html = page(client, revops_admin, "scoring:model_job_status", pk=job.pk)
    # A quarter done in three minutes: about nine minutes to go (ten if the machine is slow to answer).
    assert "25%" in html and re.search(r'id="job-estimate">about (9|10) min left<', html)
    assert "250 of 1000" not in html and "backtest fold 2 of 3: logistic regression" in html
    job.progress = 20  # 2 %: too early to say
    job.save()
    html = page(client, revops_admin, "scoring:model_job_status", pk=job.pk)
    assert "job-estimate" not in html and "2%" in html


def test_a_finished_training_says_what_it_registered_in_words_not_keys(client, revops_admin, pair):
    champion, challenger = pair
    fit = ScoringModelFactory(kind=ScoringModelKind.ACCOUNT_FIT, status=ScoringModelStatus.CHAMPION)
    started = timezone.now() - datetime.timedelta(minutes=7, seconds=32)
    job = JobRun.objects.create(
        kind="train", status=JobStatus.SUCCEEDED, total=STEPS, progress=STEPS, started_at=started,
        finished_at=timezone.now(), message=challenger.reason,
        result={
            "in_market": {"id": challenger.pk, "kind": "in_market", "version": challenger.version,
                          "status": "challenger", "family": "blend", "roc_auc": 0.82503,
                          "reason": "Backtest ROC AUC 0.8250 does not beat champion v1."},
            "account_fit": {"id": fit.pk, "kind": "account_fit", "version": fit.version,
                            "status": "champion", "family": "xgboost", "roc_auc": 0.788,
                            "reason": "First model: champion by default."},
            "persona_fit": {"kind": "persona_fit",
                            "skipped": "no opportunity created: no buying team to learn from"},
        },
    )  # fmt: skip
    html = page(client, revops_admin, "scoring:model_job", pk=job.pk)
    assert f"In-market model, version {challenger.version}" in html
    assert f"Account profile fit model, version {fit.version}" in html
    assert "Contact profile fit model</span>: not trained — no opportunity created" in html
    assert "backtest ROC AUC 0.825 (Blend (XGBoost + logistic))" in html
    assert "cross-validated ROC AUC 0.788" in html
    assert "is a challenger: the champion keeps its place" in html and "became the champion" in html
    assert reverse("scoring:model_compare", kwargs={"pk": challenger.pk}) in html
    assert "Took 7 min 32 s" in html
    for raw in ("in_market:", "account_fit", "persona_fit:", "0.82503", "roc_auc"):
        assert raw not in html.replace('data-kind="account_fit"', "").replace(
            'data-kind="persona_fit"', ""
        ), raw


# --- a challenger beside the champion ---------------------------------------------------------------------
def test_the_compare_page_shows_both_reports_the_difference_and_the_decision(client, revops_admin, pair):
    champion, challenger = pair
    html = page(client, revops_admin, "scoring:model_compare", pk=challenger.pk)
    assert f"version {challenger.version} beside the champion, version {champion.version}" in html
    # Both figures of the shipped family and the difference (challenger − champion).
    row = html.split('data-figure="roc_auc"')[1].split("</tr>")[0]
    assert "0.810" in row and "0.825" in row and "+0.015" in row and "text-success" in row
    # No bootstrap of the two is stored: the shared test dates, one by one.
    assert "the challenger ranks better on 1" in html and "2024-05-31" in html
    # What the groups earn, side by side; the features that differ.
    assert "Intent topics" in html and "+0.050" in html and "+0.030" in html
    assert "engaged_contacts_30d" in html and "opportunities_open" in html
    # The registry's rule: 0.825 beats 0.810 by more than the default margin.
    assert 'data-outcome="promote"' in html
    assert f"beats champion v{champion.version} (0.8100) by at least 0.005" in html
    assert 'id="promote-form"' in html
    # Reached from the challenger's page and the model list.
    link = reverse("scoring:model_compare", kwargs={"pk": challenger.pk})
    assert link in page(client, revops_admin, "scoring:model_detail", pk=challenger.pk)
    assert link in page(client, revops_admin, "scoring:model_list")


def test_a_challenger_that_does_not_beat_the_margin_keeps_the_champion(client, viewer, pair):
    champion, challenger = pair
    challenger.metrics = backtest_report(0.8120)
    challenger.save()
    html = page(client, viewer, "scoring:model_compare", pk=challenger.pk)
    assert 'data-outcome="keep champion"' in html and "Keep the champion" in html
    assert "does not beat champion" in html and "by the margin 0.005" in html
    assert 'id="promote-form"' not in html  # a viewer may not promote


def test_promoting_from_the_compare_page_makes_it_champion(client, revops_admin, pair):
    champion, challenger = pair
    client.force_login(revops_admin)
    response = client.post(
        reverse("scoring:model_promote", kwargs={"pk": challenger.pk}), {"reason": "better"}
    )
    assert response.status_code == 302
    challenger.refresh_from_db(), champion.refresh_from_db()
    assert challenger.status == ScoringModelStatus.CHAMPION and champion.status == ScoringModelStatus.RETIRED


def test_without_a_champion_the_page_says_so_and_what_promoting_would_do(client, revops_admin):
    lone = ScoringModelFactory(metrics=backtest_report(0.80))
    html = page(client, revops_admin, "scoring:model_compare", pk=lone.pk)
    assert 'id="no-champion"' in html and "No in-market model is champion yet" in html
    assert 'data-outcome="promote"' in html and "First model: champion by default." in html
    assert "0.800" in html


def test_an_old_report_without_families_or_groups_still_compares(client, viewer):
    old = report(roc_auc=0.79)  # from before families, feature groups and sampling
    old["leakage_warnings"] = []
    ScoringModelFactory(status=ScoringModelStatus.CHAMPION, metrics=old)
    challenger = ScoringModelFactory(metrics=backtest_report(0.80))
    html = page(client, viewer, "scoring:model_compare", pk=challenger.pk)
    row = html.split('data-figure="roc_auc"')[1].split("</tr>")[0]
    assert "0.790" in row and "0.800" in row and "+0.010" in row  # XGBoost's row stands for the old one
    assert "share no test date" in html and 'data-outcome="promote"' in html


def test_versions_of_different_kinds_are_not_compared_and_bad_input_is_explained(client, viewer, pair):
    champion, challenger = pair
    fit = ScoringModelFactory(kind=ScoringModelKind.ACCOUNT_FIT)
    client.force_login(viewer)
    url = reverse("scoring:model_compare", kwargs={"pk": challenger.pk})
    html = client.get(url, {"against": fit.pk}).content.decode()
    assert "are different kinds of model: they never compete" in html and 'id="compare-table"' not in html
    html = client.get(url, {"against": "x"}).content.decode()
    assert "must be the number of a version" in html
    assert client.get(url, {"against": 999999}).status_code == 404


def test_the_champions_page_compares_with_its_newest_challenger(client, viewer, pair):
    champion, challenger = pair
    html = page(client, viewer, "scoring:model_detail", pk=champion.pk)
    assert reverse("scoring:model_compare", kwargs={"pk": champion.pk}) in html
    html = page(client, viewer, "scoring:model_compare", pk=champion.pk)
    assert f"version {challenger.version} beside the champion, version {champion.version}" in html


def test_the_compare_page_needs_the_right_to_see_models(client, outsider, pair):
    _, challenger = pair
    client.force_login(outsider)
    assert client.get(reverse("scoring:model_compare", kwargs={"pk": challenger.pk})).status_code == 403
    assert ScoringModel.objects.filter(status=ScoringModelStatus.CHAMPION).count() == 1


def test_a_finished_backtest_names_the_best_family_in_words(client, viewer):
    finished = timezone.now()
    job = JobRun.objects.create(
        kind="backtest", status=JobStatus.SUCCEEDED, total=STEPS, progress=STEPS,
        message="champion blend: ROC AUC 0.825", result=backtest_report(0.8250),
        started_at=finished - datetime.timedelta(seconds=42), finished_at=finished,
    )  # fmt: skip
    html = page(client, viewer, "scoring:model_job", pk=job.pk)
    assert "the best family is Blend (XGBoost + logistic), pooled ROC AUC 0.825" in html
    assert "champion blend" not in html and "Took 42 s" in html
