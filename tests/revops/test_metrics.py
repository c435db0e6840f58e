"""/metrics (issue 17): Prometheus text with django-prometheus's request metrics, the work's own
instruments and the figures read when scraped; refused without the token or an allowed address."""

import datetime
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.choices import Seniority
from config import ops
from config.celery import app as celery_app
from revops import services
from revops.choices import JobStatus
from scoring.models import ScoringOutbox
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.factories import starter_ruleset

TOKEN = "m3trics-" + "x" * 32


@pytest.fixture
def scrape(settings):
    """``scrape()`` → {(name, labels…): value} of one authorised scrape."""
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []

    def run(**labels) -> dict:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
        return samples

    return run


def counted(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_metrics_are_refused_without_the_token(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Token {TOKEN}"}):
        response = Client().get("/metrics", **header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"revops_" not in response.content


@pytest.mark.django_db
def test_metrics_in_production_without_a_token_or_addresses_are_served_to_no_one(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403 and "METRICS_TOKEN" in response.json()["detail"]


@pytest.mark.django_db
def test_metrics_are_served_to_allowed_addresses(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", ["10.1.0.0/16", "192.0.2.7"]
    assert Client(REMOTE_ADDR="10.1.200.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403
    # Behind a proxy the client is the proxy's header's address, not the proxy's own.
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    proxied = Client(REMOTE_ADDR="10.1.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_metrics_show_the_outbox_jobs_and_request_latency(scrape, client, viewer):
    client.force_login(viewer)
    assert client.get("/accounts/").status_code == 200
    ScoringOutbox.objects.create(contact_ids=[1])
    ScoringOutbox.objects.create(contact_ids=[2])
    ScoringOutbox.objects.filter(pk=ScoringOutbox.objects.order_by("id").first().pk).update(
        created=timezone.now() - datetime.timedelta(minutes=10)
    )
    ScoringOutbox.objects.create(contact_ids=[3], parked_at=timezone.now())
    services.job_run_create(kind="import")
    running = services.job_run_create(kind="rescore")
    services.job_run_start(job=running)

    samples = scrape()
    assert samples[("revops_outbox_backlog",)] == 2
    assert 600 <= samples[("revops_outbox_oldest_age_seconds",)] < 700
    assert samples[("revops_outbox_parked",)] == 1
    assert samples[("revops_jobs_active", ("kind", "import"), ("status", JobStatus.PENDING))] == 1
    assert samples[("revops_jobs_active", ("kind", "rescore"), ("status", JobStatus.RUNNING))] == 1
    assert all(samples[("revops_collector_up", ("part", part))] == 1 for part in ("outbox", "queues", "jobs"))
    # django-prometheus: request latency by view, the page above among them
    latency = [
        key for key in samples if key[0] == "django_http_requests_latency_seconds_by_view_method_count"
    ]
    assert any(("view", "accounts:account_list") in key for key in latency), latency


@pytest.mark.django_db
def test_metrics_show_celery_queue_lengths_on_a_redis_broker(scrape, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://broker.example:6379/0")
    lengths = {"celery": 4, "celery\x06\x163": 1}
    fake = mock.Mock(llen=lambda key: lengths.get(key, 0))
    with mock.patch.object(ops, "redis_client", return_value=fake) as client_for:
        samples = scrape()
    client_for.assert_called_with("redis://broker.example:6379/0")
    assert samples[("revops_celery_queue_length", ("queue", "celery"))] == 5


@pytest.mark.django_db
def test_a_part_that_cannot_be_read_is_left_out_not_a_failed_scrape(scrape):
    with mock.patch.object(ops, "outbox_backlog", side_effect=RuntimeError("down")):
        samples = scrape()
    assert samples[("revops_collector_up", ("part", "outbox"))] == 0
    assert ("revops_outbox_backlog",) not in samples
    assert samples[("revops_collector_up", ("part", "jobs"))] == 1


@pytest.mark.django_db
def test_jobs_count_their_duration_and_failures_by_kind():
    before_failed = counted("revops_job_failures_total", kind="import")
    before_seen = counted("revops_job_duration_seconds_count", kind="import", outcome="failed")
    job = services.job_run_create(kind="import")
    services.job_run_start(job=job)
    services.job_run_finish(job=job, ok=False, message="bad file")
    assert counted("revops_job_failures_total", kind="import") == before_failed + 1
    assert counted("revops_job_duration_seconds_count", kind="import", outcome="failed") == before_seen + 1
    ok = services.job_run_create(kind="import")
    services.job_run_start(job=ok)
    services.job_run_finish(job=ok, ok=True)
    assert counted("revops_job_failures_total", kind="import") == before_failed + 1


@pytest.mark.django_db
def test_ingested_events_their_rescore_task_and_the_scores_are_counted(
    member, django_capture_on_commit_callbacks
):
    starter_ruleset()
    acme = AccountFactory(domain="acme.com", industry="Software", employee_count=800)
    ContactFactory(account=acme, email="vp@acme.com", seniority=Seniority.VP, department="marketing")
    drain = "scoring.tasks.outbox_drain_task"
    before = {
        "created": counted("revops_events_ingested_total", result="created"),
        "duplicate": counted("revops_events_ingested_total", result="duplicate"),
        "drains": counted("revops_task_duration_seconds_count", task=drain, outcome="success"),
        "contacts": counted("revops_scored_total", entity="contact"),
    }
    _token, key = services.api_token_create(actor=None, user=member, name="feed", scopes=["ingest"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    event = {
        "type": "demo_request",
        "occurred_at": timezone.now().isoformat(),
        "contact_email": "vp@acme.com",
    }
    body = {"events": [{**event, "message_id": "m1"}, {**event, "message_id": "m2"}]}
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/events/batch/", body, format="json").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/events/batch/", body, format="json").status_code == 200  # a replay
    assert counted("revops_events_ingested_total", result="created") == before["created"] + 2
    assert counted("revops_events_ingested_total", result="duplicate") == before["duplicate"] + 2
    assert counted("revops_task_duration_seconds_count", task=drain, outcome="success") > before["drains"]
    assert counted("revops_scored_total", entity="contact") > before["contacts"]


@pytest.mark.django_db
def test_a_rejected_batch_counts_nothing(member):
    _token, key = services.api_token_create(actor=None, user=member, name="feed", scopes=["ingest"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    before = counted("revops_events_ingested_total", result="created")
    assert api.post("/api/events/batch/", {"events": [{"type": "nope"}]}, format="json").status_code == 400
    assert counted("revops_events_ingested_total", result="created") == before
