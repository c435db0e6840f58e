"""Abuse brakes (issue 12, item 11): sign-in lockouts per account and per address, API rates per token
and scope, bad tokens per address — and none of them turns a cache outage into an error."""

import logging

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from revops import services
from revops.choices import Role, TeamKind
from tests.revops.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
DEAD_REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": "redis://127.0.0.1:6390/0"}}  # fmt: skip


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    return settings


def sign_in(username, password, *, ip="203.0.113.7", path="/login/", client=None, **extra):
    client = client or Client()
    response = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)
    return client, response


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


# --- sign-in lockouts ---------------------------------------------------------------------------------
def test_wrong_passwords_lock_the_account_even_for_the_right_password(limits):
    alice = UserFactory(username="alice")
    for _ in range(2):
        _, response = sign_in("alice", "wrong")
        assert response.status_code == 200
    _, response = sign_in("alice", "wrong")
    assert response.status_code == 429
    client, response = sign_in("alice", PASSWORD, ip="198.51.100.9")  # from anywhere
    assert response.status_code == 429 and not signed_in(client)
    text = response.content.decode()
    assert "Too many failed sign-ins; try again in 15 minutes." in text
    assert response["Retry-After"] == "900"
    assert alice.pk  # the account itself is untouched


def test_thirty_wrong_sign_ins_are_not_thirty_200s(settings):
    """The issue's probe, at the default limits."""
    UserFactory(username="bob")
    statuses = [sign_in("bob", f"guess-{n}")[1].status_code for n in range(30)]
    assert statuses.count(200) == settings.LOGIN_FAILURES_PER_ACCOUNT - 1
    assert set(statuses[settings.LOGIN_FAILURES_PER_ACCOUNT - 1 :]) == {429}


def test_one_address_guessing_many_accounts_is_locked_out(limits):
    UserFactory(username="carol")
    for n in range(5):  # one failure each for five accounts: none reaches its own limit
        sign_in(f"someone{n}", "wrong")
    client, response = sign_in("carol", PASSWORD)
    assert response.status_code == 429 and not signed_in(client)
    client, response = sign_in("carol", PASSWORD, ip="198.51.100.9")  # another address is fine
    assert response.status_code == 302 and signed_in(client)


def test_a_successful_sign_in_forgets_the_accounts_failures(limits):
    UserFactory(username="dave")
    sign_in("dave", "wrong")
    sign_in("dave", "wrong")
    client, response = sign_in("dave", PASSWORD, ip="198.51.100.1")
    assert response.status_code == 302 and signed_in(client)
    assert not AccessAttempt.objects.filter(username="dave").exists()
    _, response = sign_in("dave", "wrong", ip="198.51.100.2")
    assert response.status_code == 200  # counting starts again


def test_the_admin_sign_in_is_locked_too(limits):
    UserFactory(username="erin", is_staff=True)
    for _ in range(3):
        _, response = sign_in("erin", "wrong", path="/admin/login/")
    assert response.status_code == 429
    client, response = sign_in("erin", PASSWORD, path="/admin/login/")
    assert response.status_code == 429 and not signed_in(client)


def test_an_administrator_unlocks_an_account_in_admin(limits, user_in):
    UserFactory(username="frank")
    for _ in range(3):
        sign_in("frank", "wrong")
    assert sign_in("frank", PASSWORD)[1].status_code == 429
    admin = Client()
    admin.force_login(user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD))
    listed = admin.get("/admin/axes/accessattempt/")
    assert listed.status_code == 200 and "frank" in listed.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.filter(username="frank").values_list("pk", flat=True)]
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    client, response = sign_in("frank", PASSWORD)
    assert response.status_code == 302 and signed_in(client)


def test_a_forged_forwarded_for_does_not_dodge_the_address_limit(limits):
    UserFactory(username="gina")
    for n in range(5):
        sign_in(f"someone{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert sign_in("gina", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")[1].status_code == 429


def test_behind_a_trusted_proxy_the_proxys_header_names_the_client(limits):
    limits.CLIENT_IP_HEADER = "X-Forwarded-For"
    limits.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="hank")
    for n in range(5):  # all through the proxy (one peer address), from one client
        sign_in(f"someone{n}", "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.50")
    # a client may prepend anything; the proxy's own entry (the last) is what counts
    assert sign_in("hank", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.50")[1].status_code == 429
    client, response = sign_in("hank", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.51")
    assert response.status_code == 302 and signed_in(client)


def test_sign_in_works_with_the_cache_down(limits):
    limits.CACHES = DEAD_REDIS
    UserFactory(username="ivan")
    sign_in("ivan", "wrong")
    client, response = sign_in("ivan", PASSWORD)
    assert response.status_code == 302 and signed_in(client)


# --- API rates ----------------------------------------------------------------------------------------
@pytest.fixture
def rates(settings):
    def set_rates(**scopes):
        settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, **scopes}

    return set_rates


@pytest.fixture
def token_client(user_in):
    lead = user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)

    def make(scopes=("read", "write", "ingest"), ip="203.0.113.20"):
        _, key = services.api_token_create(actor=lead, user=lead, name="t", scopes=list(scopes))
        client = APIClient(REMOTE_ADDR=ip)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


def assert_throttled(response):
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower() or "too many" in response.json()["detail"].lower()


def test_reads_are_rated_per_token(rates, token_client):
    rates(read="2/min")
    first, second = token_client(), token_client()
    assert [first.get("/api/accounts/").status_code for _ in range(2)] == [200, 200]
    assert_throttled(first.get("/api/accounts/"))
    assert second.get("/api/accounts/").status_code == 200  # another token has its own count


def test_scopes_are_counted_apart(rates, token_client):
    rates(read="1/min", write="1/min", ingest="1/min")
    client = token_client()
    assert client.get("/api/accounts/").status_code == 200
    assert_throttled(client.get("/api/accounts/"))
    created = client.post("/api/accounts/", {"name": "Acme", "domain": "acme.example"}, format="json")
    assert created.status_code == 201
    assert_throttled(client.post("/api/accounts/", {"name": "B", "domain": "b.example"}, format="json"))
    batch = {"events": [{"message_id": "m1", "type": "page_view", "occurred_at": "2025-05-01T10:00:00Z",
                         "account_domain": "acme.example"}]}  # fmt: skip
    assert client.post("/api/events/batch/", batch, format="json").status_code in (200, 201, 202)
    assert_throttled(client.post("/api/events/batch/", batch, format="json"))


def test_job_starts_have_their_own_rate(rates, token_client):
    rates(jobs="1/hour")
    client = token_client()
    first = client.post("/api/rescore/")
    assert first.status_code in (202, 409, 503)
    assert_throttled(client.post("/api/rescore/"))
    assert client.get("/api/jobs/").status_code == 200  # reading jobs is not starting one


def test_session_users_are_rated_per_user(rates, user_in):
    rates(read="1/min")
    client = APIClient()
    client.force_login(user_in(TeamKind.SALES, Role.VIEWER))
    assert client.get("/api/accounts/").status_code == 200
    assert_throttled(client.get("/api/accounts/"))


def test_repeated_bad_tokens_from_an_address_are_answered_429(rates, token_client):
    rates(bad_token="3/min")
    guesser = APIClient(REMOTE_ADDR="203.0.113.66")
    for n in range(3):
        guesser.credentials(HTTP_AUTHORIZATION=f"Token rvo_guess{n}")
        assert guesser.get("/api/accounts/").status_code == 401
    guesser.credentials(HTTP_AUTHORIZATION="Token rvo_guess4")
    assert_throttled(guesser.get("/api/accounts/"))
    # the address is braked for every token (a guess that happened to be right would still be refused)
    assert_throttled(token_client(ip="203.0.113.66").get("/api/accounts/"))
    assert token_client(ip="203.0.113.67").get("/api/accounts/").status_code == 200


def test_rates_fail_open_when_the_cache_is_down(rates, settings, token_client, caplog):
    rates(read="1/min", bad_token="1/min")
    settings.CACHES = DEAD_REDIS
    client = token_client()
    with caplog.at_level(logging.WARNING, logger="revops.api.throttles"):
        assert [client.get("/api/accounts/").status_code for _ in range(3)] == [200, 200, 200]
        bad = APIClient()
        bad.credentials(HTTP_AUTHORIZATION="Token rvo_nope")
        assert [bad.get("/api/accounts/").status_code for _ in range(3)] == [401, 401, 401]
    assert "cache cannot be reached" in caplog.text
