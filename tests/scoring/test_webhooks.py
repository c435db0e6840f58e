"""Webhooks: signatures, the exact request a receiver gets, back-off, give-up, claiming, the pages."""

import datetime
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, transaction
from django.utils import timezone

from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from scoring.choices import DeliveryStatus
from scoring.delivery import webhooks
from scoring.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.revops.factories import TeamFactory

pytestmark = pytest.mark.django_db
SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users here never log in with a password: skip the slow hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Receiver:
    """A local HTTP receiver on 127.0.0.1 and a random port, in a thread.

    ``statuses`` are answered in order (the last one repeats); every request is recorded as
    ``{"path", "headers", "body"}``. ``redirect`` answers 302 with a Location.
    """

    def __init__(self, statuses=(200,), delay: float = 0):
        self.statuses = list(statuses)
        self.delay = delay
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    if status in (301, 302, 307, 308):
                        self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(f"answer {status}".encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (the timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/revops"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def sales_team(db):
    return TeamFactory(kind=TeamKind.SALES)


def make_endpoint(team, url, **kwargs):
    return webhooks.webhook_endpoint_create(
        actor=None, team=team, name="CRM", url=url, secret=SECRET, **kwargs
    )


def make_delivery(endpoint, event_type="contact.mql", **kwargs) -> WebhookDelivery:
    event_id = kwargs.pop("event_id", None) or uuid.uuid4()
    payload = webhooks.event_envelope(
        event_id=event_id,
        event_type=event_type,
        occurred_at=timezone.now(),
        data={"contact": {"id": 1, "email": "ada@acme.com", "fit": 12.5, "name": "Zoë"}},
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=event_id, event_type=event_type, payload=payload, **kwargs
    )


# --- signing --------------------------------------------------------------------------------------
def test_signature_matches_an_independent_hmac():
    body = b'{"id":"x","type":"ping"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign(secret=SECRET, timestamp=1700000000, body=body) == expected
    header = webhooks.signature_header(secret=SECRET, timestamp=1700000000, body=body)
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_signature_and_rejects_tampering_and_stale_timestamps():
    body = b'{"id":"x","type":"contact.mql"}'
    now = 1_700_000_000
    header = webhooks.signature_header(secret=SECRET, timestamp=now, body=body)
    assert webhooks.verify(secret=SECRET, header=header, body=body, now=now + 10)
    assert webhooks.verify(secret=SECRET, header=header, body=body, now=now + 300)
    # tampered body, wrong secret, tampered signature
    assert not webhooks.verify(secret=SECRET, header=header, body=body.replace(b"mql", b"sql"), now=now)
    assert not webhooks.verify(secret="other-secret", header=header, body=body, now=now)
    assert not webhooks.verify(secret=SECRET, header=header[:-1] + "0", body=body, now=now)
    # a replayed (stale) or far-future timestamp, and a timestamp changed without re-signing
    assert not webhooks.verify(secret=SECRET, header=header, body=body, now=now + 301)
    assert not webhooks.verify(secret=SECRET, header=header, body=body, now=now - 301)
    moved = header.replace(f"t={now}", f"t={now + 5}")
    assert not webhooks.verify(secret=SECRET, header=moved, body=body, now=now)
    # malformed headers
    for bad in ["", "garbage", f"t={now}", "v1=abc", f"t=abc,v1={'0' * 64}"]:
        assert not webhooks.verify(secret=SECRET, header=bad, body=body, now=now)
    # several signatures (a receiver rotating secrets): any may match
    two = f"t={now},v1={'0' * 64},v1={webhooks.sign(secret=SECRET, timestamp=now, body=body)}"
    assert webhooks.verify(secret=SECRET, header=two, body=body, now=now)
    # default clock: the current time
    fresh = webhooks.signature_header(secret=SECRET, timestamp=int(time.time()), body=body)
    assert webhooks.verify(secret=SECRET, header=fresh, body=body)


# --- the request a receiver gets -------------------------------------------------------------------
def test_receiver_gets_the_exact_body_and_headers(receiver, sales_team, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(sales_team, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhooks.webhook_ping_send(actor=None, endpoint=endpoint)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None

    [request] = receiver.requests
    assert request["path"] == "/hooks/revops"
    body = request["body"]
    assert body == json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    document = json.loads(body)
    assert document["id"] == str(delivery.event_id) and document["type"] == "ping"
    assert document["data"]["endpoint"] == {"id": endpoint.pk, "name": "CRM", "url": receiver.url}
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Revops-Event"] == "ping"
    assert headers["X-Revops-Event-Id"] == str(delivery.event_id)
    timestamp = int(headers["X-Revops-Timestamp"])
    assert abs(time.time() - timestamp) < 60
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Revops-Signature"] == f"t={timestamp},v1={expected}"
    assert webhooks.verify(secret=SECRET, header=headers["X-Revops-Signature"], body=body)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and attempt.error == "" and attempt.duration_ms >= 0


def test_a_500_then_200_is_retried_after_the_back_off_with_the_same_event_and_body(sales_team):
    with Receiver(statuses=[500, 200]) as receiver:
        endpoint = make_endpoint(sales_team, receiver.url)
        delivery = make_delivery(endpoint)
        t0 = timezone.now()
        assert webhooks.deliveries_due_run(now=t0) == {"sent": 1, "delivered": 0, "retrying": 1, "failed": 0}
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1
        assert delivery.next_attempt_at == t0 + datetime.timedelta(minutes=1)
        assert delivery.last_status_code == 500 and "HTTP 500" in delivery.last_error

        # Not due yet: nothing is sent.
        assert webhooks.deliveries_due_run(now=t0 + datetime.timedelta(seconds=59))["sent"] == 0
        t1 = t0 + datetime.timedelta(minutes=1)
        assert webhooks.deliveries_due_run(now=t1)["delivered"] == 1
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
        assert delivery.delivered_at == t1 and delivery.next_attempt_at is None and delivery.last_error == ""

    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert (
        first["headers"]["X-Revops-Event-Id"]
        == second["headers"]["X-Revops-Event-Id"]
        == str(delivery.event_id)
    )
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 200]
    # Delivered: later runs leave it alone.
    assert webhooks.deliveries_due_run(now=t1 + datetime.timedelta(days=2))["sent"] == 0


def test_back_off_schedule_then_gives_up(sales_team):
    with Receiver(statuses=[503]) as receiver:
        delivery = make_delivery(make_endpoint(sales_team, receiver.url))
        now = timezone.now()
        gaps = []
        for _ in range(len(webhooks.BACKOFF)):
            webhooks.deliveries_due_run(now=now)
            delivery.refresh_from_db()
            assert delivery.status == DeliveryStatus.RETRYING
            gaps.append(delivery.next_attempt_at - now)
            now = delivery.next_attempt_at
        assert gaps == [
            datetime.timedelta(minutes=1),
            datetime.timedelta(minutes=5),
            datetime.timedelta(minutes=30),
            datetime.timedelta(hours=2),
            datetime.timedelta(hours=6),
            datetime.timedelta(hours=12),
            datetime.timedelta(hours=24),
        ]
        webhooks.deliveries_due_run(now=now)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 8
        assert delivery.next_attempt_at is None
        assert webhooks.deliveries_due_run(now=now + datetime.timedelta(days=30))["sent"] == 0
    assert len(receiver.requests) == 8
    assert len({r["headers"]["X-Revops-Event-Id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1


def test_410_gone_fails_at_once(sales_team):
    with Receiver(statuses=[410]) as receiver:
        delivery = make_delivery(make_endpoint(sales_team, receiver.url))
        assert webhooks.deliveries_due_run()["failed"] == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_status_code == 410 and delivery.next_attempt_at is None


def test_a_redirect_is_not_followed_but_retried(sales_team):
    with Receiver(statuses=[302]) as receiver:
        delivery = make_delivery(make_endpoint(sales_team, receiver.url))
        webhooks.deliveries_due_run()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.last_status_code == 302
    assert [r["path"] for r in receiver.requests] == ["/hooks/revops"]


def test_connection_refused_is_logged_and_retried(sales_team):
    with Receiver() as closed:
        url = closed.url
    delivery = make_delivery(make_endpoint(sales_team, url))
    assert webhooks.deliveries_due_run()["retrying"] == 1
    delivery.refresh_from_db()
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None and "refused" in attempt.error.lower()
    assert delivery.last_status_code is None and delivery.last_error == attempt.error


def test_a_slow_receiver_times_out_and_is_retried(sales_team, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
    with Receiver(delay=1.5) as receiver:
        delivery = make_delivery(make_endpoint(sales_team, receiver.url))
        assert webhooks.deliveries_due_run()["retrying"] == 1
    delivery.refresh_from_db()
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None and "timed out" in attempt.error.lower()
    assert 250 <= attempt.duration_ms < 1500


def test_an_endpoint_deleted_mid_send_is_tolerated(receiver, sales_team):
    endpoint = make_endpoint(sales_team, receiver.url)
    make_delivery(endpoint)
    claimed = webhooks._claim(now=timezone.now())
    endpoint.delete()
    assert webhooks.delivery_attempt(delivery=claimed, now=timezone.now()) == DeliveryStatus.FAILED
    assert receiver.requests == [] and not WebhookAttempt.objects.exists()


def test_inactive_endpoints_are_not_sent_to(receiver, sales_team):
    endpoint = make_endpoint(sales_team, receiver.url, active=False)
    make_delivery(endpoint)
    assert webhooks.deliveries_due_run()["sent"] == 0
    assert receiver.requests == []


def test_a_claimed_delivery_is_not_sent_twice(receiver, sales_team):
    delivery = make_delivery(make_endpoint(sales_team, receiver.url))
    now = timezone.now()
    claimed = webhooks._claim(now=now)
    assert claimed.pk == delivery.pk
    # Another worker's run finds nothing due while the claim (lease) holds.
    assert webhooks.deliveries_due_run(now=now)["sent"] == 0
    # A sender that died leaves the row leased: it comes back after the lease.
    later = now + webhooks.CLAIM_LEASE + datetime.timedelta(seconds=1)
    assert webhooks.deliveries_due_run(now=later)["delivered"] == 1
    assert len(receiver.requests) == 1


def test_deliver_task_twice_sends_once(receiver, sales_team):
    delivery = make_delivery(make_endpoint(sales_team, receiver.url))
    first = webhooks.webhook_deliver_task.delay(delivery_ids=[delivery.pk]).get()
    second = webhooks.webhook_deliver_task.delay(delivery_ids=[delivery.pk, 999_999]).get()
    assert first["delivered"] == 1 and second["sent"] == 0
    assert webhooks.webhook_deliveries_task.delay().get()["sent"] == 0
    assert len(receiver.requests) == 1


def test_due_run_respects_the_limit(receiver, sales_team):
    endpoint = make_endpoint(sales_team, receiver.url)
    for _ in range(3):
        make_delivery(endpoint)
    assert webhooks.deliveries_due_run(limit=2)["sent"] == 2
    assert webhooks.deliveries_due_run(limit=2)["sent"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_take_the_same_row_on_postgres(receiver):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    endpoint = make_endpoint(TeamFactory(kind=TeamKind.SALES), receiver.url)
    locked, free = make_delivery(endpoint), make_delivery(endpoint)
    holding, release = threading.Event(), threading.Event()

    def other_worker():
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                WebhookDelivery.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(10)
        finally:
            thread_connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(10)
        assert webhooks.deliveries_due_run()["sent"] == 1  # skips the locked row, does not wait
    finally:
        release.set()
        thread.join()
    assert WebhookDelivery.objects.get(pk=free.pk).status == DeliveryStatus.DELIVERED
    assert WebhookDelivery.objects.get(pk=locked.pk).status == DeliveryStatus.PENDING


# --- manual retry ----------------------------------------------------------------------------------
def test_manual_retry_redelivers_the_same_event_and_is_audited(
    sales_team, user_in, django_capture_on_commit_callbacks
):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    with Receiver(statuses=[410, 200]) as receiver:
        delivery = make_delivery(make_endpoint(sales_team, receiver.url))
        webhooks.deliveries_due_run()
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.delivery_retry_now(delivery=delivery, user=lead)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    record = ChangeRecord.objects.get(object_type__model="webhookdelivery", actor=lead)
    assert record.before["status"] == "failed" and record.after["manual_retry"] is True


# --- endpoint services -----------------------------------------------------------------------------
def test_endpoint_secret_is_generated_and_redacted_in_the_audit_log(sales_team, user_in):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    endpoint = webhooks.webhook_endpoint_create(
        actor=lead,
        team=sales_team,
        name="CRM",
        url="https://crm.example.com/hook",
        event_types=["contact.sql"],
    )
    assert len(endpoint.secret) >= 40
    record = ChangeRecord.objects.get(object_type__model="webhookendpoint", action="create")
    assert endpoint.secret not in json.dumps(record.after) and record.after["secret"] == webhooks.REDACTED
    old = endpoint.secret
    webhooks.webhook_endpoint_update(actor=lead, endpoint=endpoint, data={"name": "CRM 2", "secret": ""})
    endpoint.refresh_from_db()
    assert endpoint.secret == old and endpoint.name == "CRM 2"
    webhooks.webhook_endpoint_update(actor=lead, endpoint=endpoint, data={"secret": "a-brand-new-secret-123"})
    update = ChangeRecord.objects.filter(action="update").order_by("-id").first()
    assert "a-brand-new-secret-123" not in json.dumps([update.before, update.after])


@pytest.mark.parametrize(
    "changes",
    [{"url": "not a url"}, {"url": "ftp://example.com/x"}, {"event_types": ["contact.won"]}, {"team": 1}],
)
def test_endpoint_update_rejects_bad_values_and_changes_nothing(sales_team, changes):
    from django.core.exceptions import ValidationError

    endpoint = make_endpoint(sales_team, "https://crm.example.com/hook")
    with pytest.raises(ValidationError):
        webhooks.webhook_endpoint_update(actor=None, endpoint=endpoint, data=changes)
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (fresh.url, fresh.event_types) == ("https://crm.example.com/hook", [])
    assert endpoint.url == fresh.url


# --- pages ----------------------------------------------------------------------------------------
@pytest.fixture
def team_people(user_in):
    return {
        "lead": user_in(TeamKind.SALES, Role.LEAD, username="sam-lead"),
        "member": user_in(TeamKind.SALES, Role.MEMBER, username="sid-member"),
        "viewer": user_in(TeamKind.SALES, Role.VIEWER, username="val-viewer"),
        "other_lead": user_in(TeamKind.MARKETING, Role.LEAD, username="mo-lead"),
    }


def test_pages_show_the_secret_and_buttons_to_leads_of_the_team_only(client, team_people, sales_team):
    endpoint = make_endpoint(sales_team, "https://crm.example.com/hook")
    make_delivery(endpoint, status=DeliveryStatus.FAILED, attempts=8)
    client.force_login(team_people["lead"])
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert SECRET in page and "Send test" in page and "Retry" in page and "Failed (gave up)" in page
    listing = client.get("/webhooks/").content.decode()
    assert "CRM" in listing and "Add endpoint" in listing and ">Webhooks</a>" in listing

    client.force_login(team_people["member"])
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert SECRET not in page and "Send test" not in page and "Retry" not in page
    assert "Add endpoint" not in client.get("/webhooks/").content.decode()
    assert client.get("/webhooks/add/").status_code == 403
    assert client.get(f"/webhooks/{endpoint.pk}/edit/").status_code == 403
    assert client.post(f"/webhooks/{endpoint.pk}/test/").status_code == 403
    delivery = endpoint.deliveries.get()
    assert client.post(f"/webhooks/deliveries/{delivery.pk}/retry/").status_code == 403

    # A lead of another team does not even see it.
    client.force_login(team_people["other_lead"])
    assert client.get(f"/webhooks/{endpoint.pk}/").status_code == 404
    assert client.post(f"/webhooks/{endpoint.pk}/test/").status_code == 404
    assert client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert client.post(f"/webhooks/deliveries/{delivery.pk}/retry/").status_code == 404
    assert f"/webhooks/{endpoint.pk}/" not in client.get("/webhooks/").content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_lead_creates_edits_tests_and_deletes_an_endpoint_through_the_pages(
    client, team_people, sales_team, django_capture_on_commit_callbacks
):
    client.force_login(team_people["lead"])
    form = client.get("/webhooks/add/").content.decode()
    assert "Sales" in form and "Marketing" not in form  # only teams the user leads
    response = client.post(
        "/webhooks/add/",
        {"team": sales_team.pk, "name": "HubSpot", "url": "ftp://x.example.com", "active": "on"},
    )
    assert response.status_code == 400 and "http:// or https://" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()

    with Receiver() as receiver:
        response = client.post(
            "/webhooks/add/",
            {
                "team": sales_team.pk,
                "name": "HubSpot",
                "url": receiver.url,
                "event_types": ["contact.sql"],
                "active": "on",
            },
        )
        endpoint = WebhookEndpoint.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/webhooks/{endpoint.pk}/"
        assert endpoint.event_types == ["contact.sql"] and len(endpoint.secret) >= 40
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/webhooks/{endpoint.pk}/test/")
        assert response.status_code == 302 and len(receiver.requests) == 1
        page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
        assert "Test event sent" in page and "Delivered" in page and "HTTP 200" in page
        delivery = endpoint.deliveries.get()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/webhooks/deliveries/{delivery.pk}/retry/")
        assert len(receiver.requests) == 2

    old_secret = endpoint.secret
    response = client.post(
        f"/webhooks/{endpoint.pk}/edit/",
        {"name": "HubSpot EU", "url": "https://eu.example.com/hook", "rotate_secret": "on"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.name == "HubSpot EU" and not endpoint.active and endpoint.event_types == []
    assert endpoint.secret != old_secret
    fragment = client.get(f"/webhooks/{endpoint.pk}/deliveries/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="deliveries"' in fragment and "ping" in fragment and "hx-trigger" not in fragment
    assert client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_pages_need_a_login_and_a_team(client, outsider):
    assert client.get("/webhooks/").status_code == 302
    client.force_login(outsider)
    assert client.get("/webhooks/").status_code == 403
    assert client.get("/notifications/").status_code == 403


def test_admin_lists_deliveries_and_retries(client, revops_admin, sales_team):
    from django.contrib import admin

    if not admin.site.is_registered(WebhookDelivery):
        pytest.skip("scoring.admin does not import scoring.admin_webhooks (yet)")
    endpoint = make_endpoint(sales_team, "https://crm.example.com/hook")
    delivery = make_delivery(endpoint, status=DeliveryStatus.FAILED)
    client.force_login(revops_admin)
    assert client.get("/admin/scoring/webhookdelivery/").status_code == 200
    assert client.get(f"/admin/scoring/webhookdelivery/{delivery.pk}/change/").status_code == 200
    assert client.get("/admin/scoring/webhookendpoint/").status_code == 200
    response = client.post(
        "/admin/scoring/webhookdelivery/", {"action": "retry_now", "_selected_action": [delivery.pk]}
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
