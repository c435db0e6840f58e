"""Fault test: Redis stopped (issue 12, item 7). The cache and the Celery broker point at a port nothing
listens on and tasks are not eager, as on a production server whose Redis went away; the real Redis is
never touched.

What it proves: a write that committed answers success and says what waits (ingestion: 200 with a
``deferred`` key; every answer: the ``X-Deferred-Work`` header), and the outbox sweep scores it once the
queue is back; a job that cannot be queued is failed at once with the reason in words (API 503 JSON, a
message in the UI), never left "running"; pages and imports that use the cache degrade instead of
failing."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Account, EngagementEvent
from config.celery import app as celery_app
from imports.services import import_progress, progress_set
from revops import services
from revops.choices import JobStatus
from revops.models import JobRun
from scoring import rescore
from scoring.models import ContactScore, ScoringOutbox
from tests.accounts.factories import ContactFactory
from tests.scoring.factories import starter_ruleset

DEAD = "redis://127.0.0.1:6390/0"  # nothing listens here
DEFERRED = "scoring will run when the queue is back"


@pytest.fixture
def redis_stopped(settings):
    redis = "django.core.cache.backends.redis.RedisCache"
    settings.CACHES = {"default": {"BACKEND": redis, "LOCATION": DEAD}}
    settings.JOBS_RUN_INLINE = False
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, celery_app._pool)
    conf.broker_url, conf.task_always_eager = DEAD, False
    celery_app._pool = None  # connections are made anew, to the dead port
    celery_app.amqp._producer_pool = None
    yield
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    conf.broker_url, conf.task_always_eager, celery_app._pool = saved
    celery_app.amqp._producer_pool = None


def redis_back(settings):
    """The queue is back (here: eager tasks and the local-memory cache, as in the embedded mode)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    celery_app.conf.task_always_eager = True


def token_client(user, scopes):
    _token, key = services.api_token_create(actor=None, user=user, name="feed", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db(transaction=True)  # real commits: the after-commit hooks run inside the request
def test_ingestion_and_edits_commit_answer_success_and_are_scored_when_the_queue_is_back(
    redis_stopped, member, settings, client
):
    starter_ruleset()
    contact = ContactFactory(email="ada@acme.com")  # its own outbox row could not schedule either
    feed = token_client(member, ["ingest", "write", "read"])
    event = {"message_id": "m-1", "type": "page_view", "occurred_at": "2025-05-01T10:00:00Z",
             "contact_email": "ada@acme.com", "url": "https://acme.com/pricing"}  # fmt: skip
    response = feed.post("/api/events/batch/", {"events": [event]}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == 1 and response.json()["deferred"] == DEFERRED
    assert response["X-Deferred-Work"] == DEFERRED
    assert EngagementEvent.objects.count() == 1

    patched = feed.patch(f"/api/contacts/{contact.pk}/", {"title": "CTO"}, format="json")
    assert patched.status_code == 200 and patched["Content-Type"] == "application/json"
    assert patched["X-Deferred-Work"] == DEFERRED

    client.force_login(member)
    form = {"name": "Bare Ltd", "domain": "bare.example", "country": "", "parent": "", "custom": "{}"}
    created = client.post(reverse("accounts:account_create"), form)
    assert created.status_code == 302, created.context["form"].errors
    assert created["X-Deferred-Work"] == DEFERRED
    assert Account.objects.filter(domain="bare.example").exists()

    pending = list(rescore.outbox_pending())
    assert pending and not ContactScore.objects.filter(contact=contact).exists()
    redis_back(settings)
    rescore.outbox_drain_task()  # what beat's sweep runs every 10 s
    assert not rescore.outbox_pending().exists()
    assert ScoringOutbox.objects.filter(processed_at__isnull=False).count() == len(pending)
    assert ContactScore.objects.filter(contact=contact).exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_that_cannot_be_queued_fails_with_the_reason_and_the_api_answers_503(
    redis_stopped, revops_admin, client
):
    starter_ruleset()
    ContactFactory()  # something to score: a chunk to send
    api = APIClient()
    api.force_login(revops_admin)
    for url in ("/api/rescore/", "/api/account-rescore/", "/api/models/train/", "/api/backtests/"):
        response = api.post(url, {}, format="json")
        assert response.status_code == 503, (url, response.content[:300])
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert "the task queue could not be reached" in body["detail"]
        job = JobRun.objects.get(pk=body["job"])
        assert job.status == JobStatus.FAILED and job.finished_at is not None
        assert job.message == body["detail"]
    # Nothing stays queued or running, so asking again (the queue back or not) is not refused as a duplicate.
    assert not JobRun.objects.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING]).exists()

    client.force_login(revops_admin)
    response = client.post(reverse("scoring:rescore_start"), {"reason": "new data"}, follow=True)
    assert response.status_code == 200
    assert "the task queue could not be reached" in response.content.decode()
    assert JobRun.objects.filter(kind="rescore", status=JobStatus.FAILED).count() == 3


@pytest.mark.django_db
def test_the_cache_down_degrades_import_progress_and_explanation_words(redis_stopped):
    from accounts.models import Technology
    from scoring.learned.words import _technology

    Technology.objects.create(name="Amazon Redshift")
    job = JobRun.objects.create(kind="import", progress=3, total=10, status=JobStatus.RUNNING)
    progress_set(job.pk, progress=5, total=10, phase="importing")  # logged, not raised
    shown = import_progress(job)
    assert (shown["progress"], shown["total"]) == (3, 10)  # from the job row
    assert _technology("amazon_redshift") == "Amazon Redshift"  # read from the catalogue, not cached
