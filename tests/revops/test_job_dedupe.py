"""At most one pending or running job of a kind per scope (issue 12, item 11): a second request for the same
work gets the job already doing it — the API answers 409 with that job, a page shows it with a message —
instead of starting another. One rule (``revops.services.job_run_create_once``) backed by a partial unique
index, so racing requests cannot both start one. Imports are not deduplicated."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from revops.choices import JobStatus
from revops.models import JobRun
from revops.services import job_run_create_once, job_run_finish
from scoring.learned import jobs as ml_jobs
from scoring.models import WhatIfRun
from tests.scoring.factories import starter_ruleset

pytestmark = pytest.mark.django_db


def test_the_same_work_gets_the_active_job_and_a_finished_one_frees_the_scope():
    first, created = job_run_create_once(kind="train", scope="models")
    again, created_again = job_run_create_once(kind="train", scope="models")
    assert created and not created_again and again.pk == first.pk
    other, created_other = job_run_create_once(kind="backtest", scope="models")
    assert created_other and other.pk != first.pk  # another kind is other work
    job_run_finish(job=first, ok=True)
    fresh, created_fresh = job_run_create_once(kind="train", scope="models")
    assert created_fresh and fresh.pk != first.pk


def test_the_database_refuses_a_second_active_job_of_the_same_scope():
    JobRun.objects.create(kind="rescore", scope="v1", status=JobStatus.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        JobRun.objects.create(kind="rescore", scope="v1")
    JobRun.objects.create(kind="import")  # no scope: any number
    JobRun.objects.create(kind="import")


def test_an_abandoned_job_is_failed_and_replaced():
    old = JobRun.objects.create(kind="train", scope="models", status=JobStatus.RUNNING)
    JobRun.objects.filter(pk=old.pk).update(updated=timezone.now() - datetime.timedelta(hours=3))
    new, created = job_run_create_once(kind="train", scope="models")
    old.refresh_from_db()
    assert created and old.status == JobStatus.FAILED and "Abandoned" in old.message


def test_the_api_answers_409_with_the_running_job(revops_admin):
    starter_ruleset()
    api = APIClient()
    api.force_login(revops_admin)
    for url, body in (
        ("/api/models/train/", {}),
        ("/api/backtests/", {"folds": 2}),
        ("/api/account-rescore/", {}),
    ):
        first = api.post(url, body, format="json")  # in tests the job waits for a commit that never comes
        second = api.post(url, body, format="json")
        assert first.status_code == 202, (url, first.content)
        assert second.status_code == 409, (url, second.content)
        assert second.json()["job"] == first.json()["job"] and "already" in second.json()["detail"]
    # Both rescore endpoints start the same work: the full rescore with the published versions.
    rescore = JobRun.objects.get(kind="rescore")
    again = api.post("/api/rescore/", {}, format="json")
    assert again.status_code == 409 and again.json()["job"] == rescore.pk
    # A backtest of other parameters is other work.
    assert api.post("/api/backtests/", {"folds": 3}, format="json").status_code == 202


def test_the_whatif_api_answers_409_for_the_same_comparison(revops_admin):
    ruleset = starter_ruleset()
    api = APIClient()
    api.force_login(revops_admin)
    first = api.post("/api/whatif/", {"ruleset": ruleset.pk, "days": 30}, format="json")
    second = api.post("/api/whatif/", {"ruleset": ruleset.pk, "days": 30}, format="json")
    assert (first.status_code, second.status_code) == (202, 409)
    assert second.json()["id"] == first.json()["id"] and WhatIfRun.objects.count() == 1
    assert api.post("/api/whatif/", {"ruleset": ruleset.pk, "days": 60}, format="json").status_code == 202


def test_the_ui_shows_the_running_job_with_a_message(client, revops_admin):
    client.force_login(revops_admin)
    first = client.post(reverse("scoring:model_train"), {})
    second = client.post(reverse("scoring:model_train"), {}, follow=True)
    assert second.redirect_chain[-1][0] == first["Location"]
    assert "already pending" in second.content.decode()
    assert JobRun.objects.filter(kind=ml_jobs.TRAIN_KIND).count() == 1


def test_the_weekly_retrain_skips_while_a_training_runs():
    running, _ = job_run_create_once(kind=ml_jobs.TRAIN_KIND, scope=ml_jobs.TRAIN_SCOPE)
    assert ml_jobs.model_train_task() == {"skipped": f"training job {running.pk} is already pending"}
    assert JobRun.objects.filter(kind=ml_jobs.TRAIN_KIND).count() == 1
