"""Shared fixtures: users in teams with roles, API clients (session and token)."""

import uuid

import pytest
from rest_framework.test import APIClient

from config.celery import app as celery_app
from revops.choices import Role, TeamKind
from tests.revops.factories import UserFactory, make_member

# Real Celery workers (``celery_workers``, ``celery_worker_process``) for the tests marked ``worker``.
pytest_plugins = ["tests.workers"]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(items):
    """``make test`` runs the suite in two processes (pytest -n 2 --dist loadgroup): the tests with real
    Celery workers go to one of them, one after another, so that no two sets of worker processes (and
    their kills and timeouts) compete for the cores at once."""
    for item in items:
        if item.get_closest_marker("worker"):
            item.add_marker(pytest.mark.xdist_group("worker"))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Creating a user hashes its password: the production hasher costs ~0.8 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _webhooks_to_local_receivers(settings):
    """Tests receive webhooks on 127.0.0.1 (and name hosts that do not resolve offline);
    tests/scoring/test_webhook_destinations.py checks the refusal of such hosts with this off."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture(autouse=True)
def _lean_backtests(settings):
    """Backtests in tests learn from monthly snapshots and skip the feature-group refits (CI time);
    tests/scoring/test_ml_families.py runs both as the product does."""
    settings.SCORING_FEATURE_ABLATION = False
    settings.SCORING_SEMI_MONTHLY_BELOW = 0


@pytest.fixture(autouse=True)
def _throttles_apart(settings):
    """API throttle counters live in the cache, which outlives a test (locmem in the process, Redis across
    runs): each test counts under its own prefix, at rates no ordinary test reaches. Clearing the cache
    instead would flush the Redis database the real Celery worker's queues live in.
    tests/revops/test_throttling.py sets low rates to test the throttles themselves."""
    settings.API_THROTTLE_CACHE_PREFIX = f"throttle-test-{uuid.uuid4().hex}"
    settings.API_THROTTLE_RATES = {scope: "100000/min" for scope in settings.API_THROTTLE_RATES}


@pytest.fixture(autouse=True)
def _figures_fresh(settings):
    """Pages count every figure afresh in tests (scoring.metrics.figure_kept keeps none): a kept one would
    outlive the test's data. tests/scoring/test_metrics.py keeps them to test the keeping itself."""
    settings.METRICS_KEEP_SECONDS = 0


@pytest.fixture(autouse=True)
def _jobs_inline(settings):
    """Jobs started from a page run in the request (the embedded mode's background thread is tested apart)."""
    settings.JOBS_RUN_INLINE = True


@pytest.fixture(autouse=True)
def _outbox_drained_inline(settings):
    """Without a broker the outbox drains in a thread a moment after commit; tests read the scores right
    after the write, so it drains in the request (tests/scoring/test_outbox_drainer.py tests the thread)."""
    settings.SCORING_DRAIN_INLINE = True


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in-process in tests, even with REDIS_URL set; test_worker.py uses a real worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def user_in(db):
    """Factory fixture: ``user_in(TeamKind.SALES, Role.MEMBER)`` → a user with that membership."""

    def make(kind: str = TeamKind.MARKETING, role: str = Role.MEMBER, **user_kwargs):
        return make_member(kind=kind, role=role, **user_kwargs)

    return make


@pytest.fixture
def member(user_in):
    return user_in(TeamKind.MARKETING, Role.MEMBER)


@pytest.fixture
def viewer(user_in):
    return user_in(TeamKind.SALES, Role.VIEWER)


@pytest.fixture
def revops_admin(user_in):
    return user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)


@pytest.fixture
def outsider(db):
    """Logged in, but in no team: no permissions at all."""
    return UserFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(api_client):
    """``client_for(user)`` → an APIClient logged in as ``user`` (session auth)."""

    def make(user):
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _ingest_stage_forgotten():
    """Ingestion remembers, per connection, that its temporary staging table exists once a transaction
    that created it commits. A test that runs on-commit callbacks inside its rolled-back transaction
    (``django_capture_on_commit_callbacks(execute=True)``) would leave that memory wrong."""
    yield
    from accounts import ingest

    ingest._staged.clear()
