"""The webhooks and notifications API: who may do what, tokens and scopes, bad input, the actions."""

import pytest

from revops import services
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from scoring.choices import DeliveryStatus
from scoring.delivery import webhooks
from scoring.models import Notification, NotificationRead, WebhookDelivery, WebhookEndpoint
from tests.revops.factories import TeamFactory
from tests.scoring.test_webhooks import Receiver, make_delivery

pytestmark = pytest.mark.django_db
HOOK = "https://crm.example.com/hook"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users here never log in with a password: skip the slow hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(user_in):
    """Sales: a lead, a member and a viewer; marketing: a lead and a member."""
    return {
        "lead": user_in(TeamKind.SALES, Role.LEAD),
        "member": user_in(TeamKind.SALES, Role.MEMBER),
        "viewer": user_in(TeamKind.SALES, Role.VIEWER),
        "other_lead": user_in(TeamKind.MARKETING, Role.LEAD),
        "other_member": user_in(TeamKind.MARKETING, Role.MEMBER),
    }


@pytest.fixture
def sales():
    return TeamFactory(kind=TeamKind.SALES)


@pytest.fixture
def endpoint(people, sales):
    return webhooks.webhook_endpoint_create(actor=people["lead"], team=sales, name="CRM", url=HOOK)


@pytest.fixture
def delivery(endpoint):
    return make_delivery(endpoint, status=DeliveryStatus.FAILED, attempts=8)


def token_client(api_client, user, scopes):
    _, key = services.api_token_create(actor=user, user=user, name="t", scopes=scopes)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def snapshot():
    return list(WebhookEndpoint.objects.order_by("id").values()), list(
        WebhookDelivery.objects.order_by("id").values("id", "status", "attempts", "next_attempt_at")
    )


# --- endpoints CRUD --------------------------------------------------------------------------------
def test_lead_creates_an_endpoint_and_sees_its_secret_once(client_for, people, sales):
    client = client_for(people["lead"])
    response = client.post(
        "/api/webhooks/", {"name": "HubSpot", "url": HOOK, "event_types": ["contact.sql", "contact.mql"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    # The team defaults to the one the user leads; the secret is generated and shown in this answer.
    assert body["team"] == sales.pk and body["secret"] == endpoint.secret and len(body["secret"]) >= 40
    assert body["event_types"] == ["contact.mql", "contact.sql"]
    listed = client.get("/api/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/webhooks/{endpoint.pk}/").json()
    record = ChangeRecord.objects.get(object_type__model="webhookendpoint")
    assert record.actor == people["lead"] and endpoint.secret not in str(record.after)


def test_given_secret_is_kept(client_for, people):
    response = client_for(people["lead"]).post(
        "/api/webhooks/", {"name": "X", "url": HOOK, "secret": "my-own-secret-1234567"}
    )
    assert response.status_code == 201 and response.json()["secret"] == "my-own-secret-1234567"


def test_lead_updates_and_deletes(client_for, people, endpoint):
    client = client_for(people["lead"])
    response = client.patch(
        f"/api/webhooks/{endpoint.pk}/", {"active": False, "event_types": ["contact.sql"]}
    )
    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    assert endpoint.active is False and endpoint.event_types == ["contact.sql"]
    assert client.delete(f"/api/webhooks/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


BAD = [
    {"url": "not a url"},
    {"url": "ftp://example.com/hook"},
    {"url": "javascript:alert(1)"},
    {"event_types": ["contact.won"]},
    {"event_types": "contact.mql"},
    {"event_types": ["ping"]},
    {"colour": "red"},
    {"secret": "short"},
    {"name": ""},
]


@pytest.mark.parametrize("bad", BAD)
def test_bad_input_is_a_400_and_changes_nothing(client_for, people, endpoint, bad):
    client = client_for(people["lead"])
    before = snapshot()
    response = client.post("/api/webhooks/", {"name": "X", "url": HOOK, **bad}, format="json")
    assert response.status_code == 400 and set(bad) <= set(response.json())
    response = client.patch(f"/api/webhooks/{endpoint.pk}/", bad, format="json")
    assert response.status_code == 400 and set(bad) <= set(response.json())
    assert snapshot() == before


def test_name_and_url_are_required(client_for, people):
    response = client_for(people["lead"]).post("/api/webhooks/", {}, format="json")
    assert response.status_code == 400 and {"name", "url"} <= set(response.json())
    assert not WebhookEndpoint.objects.exists()


def test_team_cannot_change_and_must_be_chosen_when_ambiguous(client_for, people, endpoint, user_in):
    client = client_for(people["lead"])
    marketing = TeamFactory(kind=TeamKind.MARKETING)
    response = client.patch(f"/api/webhooks/{endpoint.pk}/", {"team": marketing.pk})
    assert response.status_code == 400 and "team" in response.json()
    two_hats = user_in(TeamKind.SALES, Role.LEAD)
    services.membership_set(actor=None, user=two_hats, team=marketing, role=Role.LEAD)
    response = client_for(two_hats).post("/api/webhooks/", {"name": "X", "url": HOOK})
    assert response.status_code == 400 and "team" in response.json()
    response = client_for(two_hats).post("/api/webhooks/", {"name": "X", "url": HOOK, "team": marketing.pk})
    assert response.status_code == 201


# --- denied paths, role by role --------------------------------------------------------------------
@pytest.mark.parametrize("role", ["member", "viewer"])
def test_team_members_and_viewers_read_but_do_not_manage(client_for, people, endpoint, delivery, role):
    client = client_for(people[role])
    before = snapshot()
    assert client.get("/api/webhooks/").json()["results"][0]["id"] == endpoint.pk
    assert client.get(f"/api/webhooks/{endpoint.pk}/").status_code == 200
    assert client.get(f"/api/webhooks/{endpoint.pk}/deliveries/").status_code == 200
    assert client.get(f"/api/webhook-deliveries/{delivery.pk}/").status_code == 200
    assert client.post("/api/webhooks/", {"name": "X", "url": HOOK}).status_code == 403
    assert client.patch(f"/api/webhooks/{endpoint.pk}/", {"name": "Y"}).status_code == 403
    assert client.delete(f"/api/webhooks/{endpoint.pk}/").status_code == 403
    assert client.post(f"/api/webhooks/{endpoint.pk}/test/").status_code == 403
    assert client.post(f"/api/webhook-deliveries/{delivery.pk}/retry/").status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("role", ["other_lead", "other_member"])
def test_other_teams_do_not_see_the_endpoint(client_for, people, endpoint, delivery, sales, role):
    client = client_for(people[role])
    before = snapshot()
    assert client.get("/api/webhooks/").json()["results"] == []
    assert client.get("/api/webhook-deliveries/").json()["results"] == []
    assert client.get(f"/api/webhooks/{endpoint.pk}/").status_code == 404
    assert client.get(f"/api/webhooks/{endpoint.pk}/deliveries/").status_code == 404
    assert client.get(f"/api/webhook-deliveries/{delivery.pk}/").status_code == 404
    expected = 404 if role == "other_lead" else 403  # a member lacks the permission before any lookup
    assert client.patch(f"/api/webhooks/{endpoint.pk}/", {"name": "Y"}).status_code == expected
    assert client.delete(f"/api/webhooks/{endpoint.pk}/").status_code == expected
    assert client.post(f"/api/webhooks/{endpoint.pk}/test/").status_code == expected
    assert client.post(f"/api/webhook-deliveries/{delivery.pk}/retry/").status_code == expected
    # Creating one for a team you do not lead.
    response = client.post("/api/webhooks/", {"name": "X", "url": HOOK, "team": sales.pk})
    assert response.status_code == 403
    assert snapshot() == before


def test_anonymous_and_teamless_users_are_refused(api_client, client_for, outsider, endpoint, delivery):
    urls = [
        "/api/webhooks/",
        f"/api/webhooks/{endpoint.pk}/",
        f"/api/webhooks/{endpoint.pk}/deliveries/",
        "/api/webhook-deliveries/",
        "/api/notifications/",
    ]
    for url in urls:
        assert api_client.get(url).status_code in (401, 403)
        assert client_for(outsider).get(url).status_code == 403
    for url in [f"/api/webhooks/{endpoint.pk}/test/", f"/api/webhook-deliveries/{delivery.pk}/retry/"]:
        assert api_client.post(url).status_code in (401, 403)
        assert client_for(outsider).post(url).status_code == 403
    assert client_for(outsider).post("/api/notifications/read-all/").status_code == 403


# --- tokens and scopes -----------------------------------------------------------------------------
def test_read_token_reads_but_cannot_write(api_client, people, endpoint, delivery):
    client = token_client(api_client, people["lead"], ["read"])
    before = snapshot()
    assert client.get("/api/webhooks/").status_code == 200
    assert client.get(f"/api/webhooks/{endpoint.pk}/deliveries/").status_code == 200
    assert client.post("/api/webhooks/", {"name": "X", "url": HOOK}, format="json").status_code == 403
    assert client.patch(f"/api/webhooks/{endpoint.pk}/", {"name": "Y"}, format="json").status_code == 403
    assert client.post(f"/api/webhooks/{endpoint.pk}/test/").status_code == 403
    assert client.post(f"/api/webhook-deliveries/{delivery.pk}/retry/").status_code == 403
    assert client.post("/api/notifications/read-all/").status_code == 403
    assert snapshot() == before


def test_ingest_token_cannot_even_read(api_client, people, endpoint):
    client = token_client(api_client, people["lead"], ["ingest"])
    assert client.get("/api/webhooks/").status_code == 403
    assert client.get("/api/notifications/").status_code == 403


def test_write_token_of_a_lead_manages(api_client, people, endpoint, django_capture_on_commit_callbacks):
    client = token_client(api_client, people["lead"], ["read", "write"])
    assert client.post("/api/webhooks/", {"name": "X", "url": HOOK}, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(f"/api/webhooks/{endpoint.pk}/test/").status_code == 201


def test_write_token_never_exceeds_its_user(api_client, people, endpoint):
    client = token_client(api_client, people["member"], ["read", "write"])
    assert client.post(f"/api/webhooks/{endpoint.pk}/test/").status_code == 403


# --- actions ---------------------------------------------------------------------------------------
def test_test_action_sends_a_ping_through_the_delivery_table(
    client_for, people, sales, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        endpoint = webhooks.webhook_endpoint_create(actor=None, team=sales, name="R", url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(people["lead"]).post(f"/api/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 201
    delivery = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert delivery.event_type == "ping" and delivery.status == DeliveryStatus.DELIVERED
    assert receiver.requests[0]["headers"]["X-Revops-Event-Id"] == str(delivery.event_id)
    logged = client_for(people["viewer"]).get(f"/api/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert logged[0]["status"] == "delivered" and logged[0]["attempt_log"][0]["status_code"] == 200


def test_test_action_refuses_an_inactive_endpoint(client_for, people, endpoint):
    webhooks.webhook_endpoint_update(actor=None, endpoint=endpoint, data={"active": False})
    response = client_for(people["lead"]).post(f"/api/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 400 and not WebhookDelivery.objects.exists()


def test_delivery_log_is_cursor_paginated_and_filtered(
    client_for, people, endpoint, django_assert_max_num_queries
):
    for status in ["failed", "delivered", "retrying", "failed", "delivered"]:
        make_delivery(endpoint, status=status)
    client = client_for(people["viewer"])
    url = f"/api/webhooks/{endpoint.pk}/deliveries/"
    page = client.get(url, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"] and "cursor=" in page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 2
    failed = client.get(url, {"status": "failed"}).json()["results"]
    assert [d["status"] for d in failed] == ["failed", "failed"]
    both = client.get(f"{url}?status=failed&status=retrying").json()["results"]
    assert sorted(d["status"] for d in both) == ["failed", "failed", "retrying"]
    assert client.get(url, {"status": "lost"}).status_code == 400
    with django_assert_max_num_queries(8):
        assert client.get(url).status_code == 200


def test_retry_action_redelivers(client_for, people, sales, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        endpoint = webhooks.webhook_endpoint_create(actor=None, team=sales, name="R", url=receiver.url)
        delivery = make_delivery(endpoint, status=DeliveryStatus.FAILED, attempts=8)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(people["lead"]).post(f"/api/webhook-deliveries/{delivery.pk}/retry/")
    assert response.status_code == 200 and response.json()["status"] in ("pending", "delivered")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 9
    assert receiver.requests[0]["headers"]["X-Revops-Event-Id"] == str(delivery.event_id)
    assert ChangeRecord.objects.filter(object_type__model="webhookdelivery", actor=people["lead"]).exists()


# --- notifications ---------------------------------------------------------------------------------
@pytest.fixture
def inbox(people, sales):
    marketing = TeamFactory(kind=TeamKind.MARKETING)
    return {
        "a": Notification.objects.create(team=sales, kind="contact.sql", title="A"),
        "b": Notification.objects.create(team=sales, kind="contact.mql", title="B"),
        "m": Notification.objects.create(team=marketing, kind="contact.mql", title="M"),
    }


def test_notifications_are_the_users_teams(client_for, people, inbox):
    results = client_for(people["viewer"]).get("/api/notifications/").json()["results"]
    assert [n["title"] for n in results] == ["B", "A"]
    assert results[0]["team_name"] == "Sales" and results[0]["read_at"] is None
    assert client_for(people["viewer"]).get(f"/api/notifications/{inbox['m'].pk}/").status_code == 404


def test_mark_read_and_filter_unread(client_for, people, inbox):
    client = client_for(people["member"])
    response = client.post(f"/api/notifications/{inbox['a'].pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    assert [n["title"] for n in client.get("/api/notifications/", {"unread": "true"}).json()["results"]] == [
        "B"
    ]
    assert [n["title"] for n in client.get("/api/notifications/", {"unread": "false"}).json()["results"]] == [
        "A"
    ]
    assert client.post(f"/api/notifications/{inbox['m'].pk}/read/").status_code == 404
    assert client.post("/api/notifications/read-all/").json() == {"marked": 1}
    assert not inbox["m"].reads.exists() and inbox["a"].reads.get().user == people["member"]


def test_viewers_and_read_tokens_cannot_mark_read(client_for, api_client, people, inbox):
    viewer = client_for(people["viewer"])
    assert viewer.post(f"/api/notifications/{inbox['a'].pk}/read/").status_code == 403
    assert viewer.post("/api/notifications/read-all/").status_code == 403
    token = token_client(api_client, people["member"], ["read"])
    assert token.get("/api/notifications/").status_code == 200
    assert token.post(f"/api/notifications/{inbox['a'].pk}/read/").status_code == 403
    assert not NotificationRead.objects.exists()


def test_schema_documents_the_endpoints(client_for, people):
    response = client_for(people["viewer"]).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    paths = response.json()["paths"]
    for path in [
        "/api/webhooks/",
        "/api/webhooks/{id}/",
        "/api/webhooks/{id}/deliveries/",
        "/api/webhooks/{id}/test/",
        "/api/webhook-deliveries/{id}/retry/",
        "/api/notifications/",
        "/api/notifications/{id}/read/",
        "/api/notifications/read-all/",
    ]:
        assert path in paths, path
    params = {p["name"] for p in paths["/api/webhooks/{id}/deliveries/"]["get"]["parameters"]}
    assert {"status", "cursor"} <= params
