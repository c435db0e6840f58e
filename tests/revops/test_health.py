"""The operator's probes (issue 17): /healthz answers without the database, /readyz names each failing
check with 503, both open to anonymous callers past the host check, the HTTPS redirect and sign-in."""

import datetime
import time
from unittest import mock

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from config import ops
from config.celery import app as celery_app
from revops import workerops
from scoring.models import ScoringOutbox


def _ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def test_healthz_answers_without_touching_the_database(client):
    """No django_db mark: pytest-django makes any database access here an error."""
    with mock.patch.object(ops, "readiness", side_effect=AssertionError("checked")):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "X-Request-ID" not in response  # answered before the rest of the middleware


@pytest.mark.django_db
def test_readyz_passes_with_everything_up(client):
    status, body = _ready(client)
    assert status == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    assert {"database", "migrations", "worker", "outbox"} <= set(body["checks"])
    assert body["checks"]["worker"]["mode"].startswith("eager")  # no worker, and none needed
    assert body["checks"]["outbox"] == {**body["checks"]["outbox"], "ok": True, "pending": 0, "parked": 0}


@pytest.mark.django_db
def test_readyz_fails_when_the_database_is_down_and_says_no_secret(client, settings):
    settings.DATABASES["default"]["PASSWORD"] = "hunter2-secret"
    error = Exception(
        'connection to server at "db.internal" failed: password "hunter2-secret" for user revops'
    )
    with mock.patch.object(ops.connection, "cursor", side_effect=error):
        status, body = _ready(client)
    assert status == 503
    assert "database" in body["failing"] and body["checks"]["database"]["error"] == "unreachable (Exception)"
    # What needs the database is not asked, and says so.
    assert "migrations" in body["failing"] and "outbox" in body["failing"]
    text = str(body)
    assert "hunter2" not in text and "db.internal" not in text and "revops" not in text


@pytest.mark.django_db
def test_readyz_checks_redis_only_when_configured(client, settings):
    settings.REDIS_URL = ""
    assert "redis" not in _ready(client)[1]["checks"]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    status, body = _ready(client)
    assert status == 503 and body["failing"] == ["redis"]
    assert body["checks"]["redis"]["error"].startswith("unreachable (")


@pytest.mark.django_db
def test_readyz_passes_redis_that_answers(client, settings):
    settings.REDIS_URL = "redis://cache.example:6379/0"
    with mock.patch.object(ops, "redis_client") as client_for:
        status, body = _ready(client)
    client_for.assert_called_once_with("redis://cache.example:6379/0")
    assert status == 200 and body["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_readyz_fails_with_a_migration_not_applied(client):
    MigrationRecorder.Migration.objects.filter(app="revops", name="0003_jobrun_scope").delete()
    status, body = _ready(client)
    assert status == 503 and body["failing"] == ["migrations"]
    assert body["checks"]["migrations"]["error"].startswith(
        "1 migrations not applied: revops.0003_jobrun_scope"
    )


@pytest.mark.django_db
def test_readyz_fails_past_the_outbox_thresholds_only(client, settings):
    settings.HEALTH_OUTBOX_MAX_PENDING, settings.HEALTH_OUTBOX_MAX_AGE_SECONDS = 2, 600
    for _ in range(2):
        ScoringOutbox.objects.create(contact_ids=[1])
    ScoringOutbox.objects.create(contact_ids=[2], processed_at=timezone.now())  # done: not backlog
    ScoringOutbox.objects.create(contact_ids=[3], parked_at=timezone.now())  # parked: counted apart
    status, body = _ready(client)
    assert status == 200, body
    assert body["checks"]["outbox"]["pending"] == 2 and body["checks"]["outbox"]["parked"] == 1

    ScoringOutbox.objects.create(contact_ids=[4])
    status, body = _ready(client)
    assert status == 503 and body["failing"] == ["outbox"]
    assert body["checks"]["outbox"]["error"] == "3 rows waiting to be rescored, more than 2"

    settings.HEALTH_OUTBOX_MAX_PENDING = 0  # off
    assert _ready(client)[0] == 200
    old = timezone.now() - datetime.timedelta(hours=1)
    ScoringOutbox.objects.filter(pk=ScoringOutbox.objects.order_by("id").first().pk).update(created=old)
    status, body = _ready(client)
    assert status == 503 and body["failing"] == ["outbox"]
    assert body["checks"]["outbox"]["oldest_age_seconds"] >= 3600
    assert "the oldest row has waited" in body["checks"]["outbox"]["error"]


@pytest.fixture
def with_broker(monkeypatch, settings):
    """As with a broker: tasks go to a worker, and the cache is shared with it."""
    celery_app.conf.task_always_eager = False  # put back by the _celery_eager fixture (tests/conftest.py)
    monkeypatch.setattr(ops, "shared_cache", lambda: True)
    settings.HEALTH_WORKER_STALE_SECONDS = 60
    workerops.cache.delete(workerops.HEARTBEAT_KEY)
    yield
    workerops.cache.delete(workerops.HEARTBEAT_KEY)


@pytest.mark.django_db
def test_readyz_with_a_broker_needs_a_worker_heartbeat(client, with_broker, settings):
    status, body = _ready(client)
    assert status == 503 and body["failing"] == ["worker"]
    assert body["checks"]["worker"]["error"] == "no Celery worker has sent a heartbeat in the last 60 s"

    workerops.heartbeat_write()
    status, body = _ready(client)
    assert status == 200 and body["checks"]["worker"]["heartbeat_age_seconds"] < 5

    settings.HEALTH_WORKER_STALE_SECONDS = 10
    workerops.cache.set(workerops.HEARTBEAT_KEY, timezone.now().timestamp() - 30)  # a worker gone quiet
    assert _ready(client)[1]["failing"] == ["worker"]


def test_the_local_memory_cache_is_not_shared(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ops.shared_cache() is False
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    }
    assert ops.shared_cache() is True


@pytest.mark.django_db
def test_readyz_without_a_shared_cache_pings_the_workers(client, monkeypatch):
    celery_app.conf.task_always_eager = False  # put back by the _celery_eager fixture (tests/conftest.py)
    monkeypatch.setattr(ops, "shared_cache", lambda: False)  # as with local-memory caches
    with mock.patch.object(celery_app.control, "ping", return_value=[]) as ping:
        status, body = _ready(client)
    assert ping.call_args.kwargs["timeout"] <= 1
    assert status == 503 and "no Celery worker answered" in body["checks"]["worker"]["error"]
    with mock.patch.object(celery_app.control, "ping", return_value=[{"w1@host": {"ok": "pong"}}]):
        status, body = _ready(client)
    assert status == 200 and body["checks"]["worker"]["workers"] == 1


def test_the_worker_heartbeat_thread_beats_until_the_worker_stops(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    workerops.cache.delete(workerops.HEARTBEAT_KEY)
    workerops.heartbeat_start()
    try:
        deadline = time.monotonic() + 5
        while workerops.worker_heartbeat_age() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert workerops.worker_heartbeat_age() is not None
    finally:
        workerops.heartbeat_stop()
    workerops.cache.delete(workerops.HEARTBEAT_KEY)
    time.sleep(0.2)
    assert workerops.worker_heartbeat_age() is None  # stopped: no more beats


@pytest.mark.django_db
def test_probes_skip_the_host_check_the_https_redirect_and_sign_in(settings):
    """A probe calls the container by its address over plain HTTP, with no session; the site behind a
    TLS proxy redirects every other such request and refuses the unknown host."""
    settings.ALLOWED_HOSTS = ["revops.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    probe = Client(HTTP_HOST="10.0.0.7:8000")
    assert probe.get("/healthz").status_code == 200
    assert probe.get("/readyz").status_code == 200
    assert probe.get("/healthz/").status_code == 200
    assert probe.get("/accounts/").status_code == 400  # DisallowedHost, as before
    site = Client(HTTP_HOST="revops.example.com")
    assert site.get("/accounts/").status_code == 301  # to https://
    assert site.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_probes_are_not_throttled(client, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "2/min"}
    assert all(client.get("/readyz").status_code == 200 for _ in range(6))


def test_probes_refuse_writes(client):
    response = client.post("/healthz")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
