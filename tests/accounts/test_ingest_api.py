"""POST /api/events/batch/: success, idempotent replays, every kind of bad input, and who may call it."""

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, AccountActivityDaily, Contact, ContactActivityDaily, EngagementEvent
from revops import services
from tests.accounts.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/events/batch/"
WHEN = "2025-05-01T10:00:00Z"


def event(n: int, **fields) -> dict:
    data = {"message_id": f"evt-{n}", "type": "page_view", "occurred_at": WHEN, "account_domain": "acme.com"}
    data.update(fields)
    return data


@pytest.fixture
def token_client(member):
    """``token_client(scopes)`` → an APIClient authenticated by a new token of ``member``."""

    def make(scopes=("ingest",), user=None):
        token, key = services.api_token_create(
            actor=None, user=user or member, name="feed", scopes=list(scopes)
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.token = token
        return client

    return make


@pytest.fixture
def ingest(token_client):
    return token_client()


def post(client, body):
    if isinstance(body, bytes | str):
        return client.post(URL, body, content_type="application/json")
    return client.post(URL, body, format="json")


def written() -> tuple[int, ...]:
    return (
        EngagementEvent.objects.count(),
        Account.objects.count(),
        Contact.objects.count(),
        AccountActivityDaily.objects.count(),
        ContactActivityDaily.objects.count(),
    )


def test_batch_is_ingested(ingest):
    acme = AccountFactory(domain="acme.com")
    ada = ContactFactory(account=acme, email="ada@acme.com")
    events = [
        event(1, url="https://acme.com/pricing"),
        event(2, url="/pricing/", account_domain=None, account_id=acme.pk),
        event(3, url="/careers", account_domain=None, contact_email="ada@acme.com"),
        event(4, type="intent", topic="ABM software"),
    ]
    response = post(ingest, {"events": events})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "received": 4, "created": 4, "duplicates": 0, "accounts_created": 0, "contacts_created": 0,
    }  # fmt: skip
    rollups = {(r.event_type, r.key): (r.count, r.known_count) for r in AccountActivityDaily.objects.all()}
    assert rollups == {
        ("page_view", "/pricing"): (2, 0),
        ("page_view", "/careers"): (1, 1),
        ("intent", "abm software"): (1, 0),
    }
    assert ContactActivityDaily.objects.get().contact == ada


def test_replay_writes_no_duplicates_and_does_not_double_count(ingest):
    events = [
        event(n, url="/pricing", contact_email=f"p{n % 2}@acme.com", account_domain=None) for n in range(10)
    ]
    assert post(ingest, {"events": events}).json()["created"] == 10
    before = written(), list(AccountActivityDaily.objects.values_list("count", "known_count"))

    replay = post(ingest, {"events": events})

    assert replay.status_code == 200
    assert replay.json() == {
        "received": 10, "created": 0, "duplicates": 10, "accounts_created": 0, "contacts_created": 0,
    }  # fmt: skip
    assert (written(), list(AccountActivityDaily.objects.values_list("count", "known_count"))) == before
    assert before[1] == [(10, 10)]


def test_unknown_domain_and_email_create_account_and_contact(ingest):
    response = post(
        ingest,
        {
            "events": [
                event(1, account_domain="https://www.NewCo.io/"),
                event(2, account_domain=None, contact_email="Grace@Hopper.dev"),
            ]
        },
    )
    assert response.json()["accounts_created"] == 2
    assert response.json()["contacts_created"] == 1
    assert Account.objects.filter(domain="newco.io").exists()
    assert Contact.objects.get(email="grace@hopper.dev").account.domain == "hopper.dev"


def test_free_mail_contact_has_no_account(ingest):
    response = post(ingest, {"events": [event(1, account_domain=None, contact_email="someone@gmail.com")]})
    assert response.status_code == 200
    assert Contact.objects.get(email="someone@gmail.com").account is None
    assert not Account.objects.exists()
    assert EngagementEvent.objects.get().account is None


@pytest.mark.parametrize(
    ("body", "index", "field"),
    [
        (b'{"events": [', None, "non_field_errors"),
        (b"\xff\xfe", None, "non_field_errors"),
        ([event(1)], None, "non_field_errors"),
        ({"events": "page_view"}, None, "events"),
        ({"events": {"0": event(1)}}, None, "events"),
        ({}, None, "events"),
        ({"events": [event(1)], "extra": 1}, None, "extra"),
        ({"events": [event(1), 5]}, 1, "non_field_errors"),
        ({"events": [event(1), event(2, message_id=7)]}, 1, "message_id"),
        ({"events": [event(1), event(2, account_id="3", account_domain=None)]}, 1, "account_id"),
        ({"events": [event(1, properties="x")]}, 0, "properties"),
        ({"events": [event(1, referrer="x")]}, 0, "referrer"),
        ({"events": [event(1, occurred_at="2025-05-01T10:00:00")]}, 0, "occurred_at"),
        ({"events": [event(1, occurred_at="2999-01-01T00:00:00Z")]}, 0, "occurred_at"),
        ({"events": [event(1, account_domain=None, contact_email="ada@")]}, 0, "contact_email"),
        ({"events": [event(1, type="visit")]}, 0, "type"),
        ({"events": [event(1, type="intent")]}, 0, "topic"),
        ({"events": [event(1, account_domain=None)]}, 0, "account"),
        ({"events": [event(1, account_domain=None, account_id=10**9)]}, 0, "account_id"),
        ({"events": [event(1, contact_id=10**9)]}, 0, "contact_id"),
        ({"events": [event(1, campaign_id=10**9)]}, 0, "campaign_id"),
        ({"events": [event(1), event(2), event(1)]}, 2, "message_id"),
        ({"events": [event(n) for n in range(1001)]}, None, "events"),
        (json.dumps({"events": [event(1, url="/\ud800")]}).encode(), 0, "url"),
    ],
)
def test_bad_input_is_refused_whole(ingest, body, index, field):
    if isinstance(body, list):
        body = json.dumps(body).encode()
    before = written()

    response = post(ingest, body)

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert {"index": index, "field": field} in [{"index": e["index"], "field": e["field"]} for e in errors]
    assert all(e["message"] for e in errors)
    assert written() == before  # nothing at all, not even the valid events' new account


def test_every_bad_item_is_reported(ingest):
    response = post(ingest, {"events": [event(1, type="x"), event(2), event(3, occurred_at="now", url=5)]})
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [
        (0, "type"),
        (2, "occurred_at"),
        (2, "url"),
    ]


def test_a_full_batch_of_1000_is_accepted(ingest):
    response = post(ingest, {"events": [event(n, url=f"/blog/{n % 10}") for n in range(1000)]})
    assert response.status_code == 200
    assert response.json()["created"] == 1000
    assert sum(AccountActivityDaily.objects.values_list("count", flat=True)) == 1000


# --- who may call it --------------------------------------------------------------------------
def test_anonymous_is_refused(api_client):
    response = post(api_client, {"events": [event(1)]})
    assert response.status_code in (401, 403)
    assert not EngagementEvent.objects.exists()


def test_bad_token_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token rvo_nope")
    assert post(api_client, {"events": [event(1)]}).status_code == 401


def test_viewer_is_refused(client_for, token_client, viewer):
    assert post(client_for(viewer), {"events": [event(1)]}).status_code == 403
    assert post(token_client(user=viewer), {"events": [event(1)]}).status_code == 403
    assert not EngagementEvent.objects.exists()


def test_user_in_no_team_is_refused(client_for, outsider):
    assert post(client_for(outsider), {"events": [event(1)]}).status_code == 403


def test_token_without_ingest_scope_is_refused(token_client):
    response = post(token_client(scopes=("read", "write")), {"events": [event(1)]})
    assert response.status_code == 403
    assert "scope" in response.json()["detail"]
    assert not EngagementEvent.objects.exists()


def test_token_with_ingest_scope_is_enough(token_client):
    assert post(token_client(scopes=("ingest",)), {"events": [event(1)]}).status_code == 200


def test_revoked_token_is_refused(token_client):
    client = token_client()
    services.api_token_revoke(actor=None, token=client.token)
    assert post(client, {"events": [event(1)]}).status_code == 401
    assert not EngagementEvent.objects.exists()


def test_expired_token_is_refused(token_client):
    client = token_client()
    client.token.expires_at = timezone.now()
    client.token.save()
    assert post(client, {"events": [event(1)]}).status_code == 401


def test_member_session_may_ingest(client_for, member):
    assert post(client_for(member), {"events": [event(1)]}).status_code == 200


def test_only_post_is_allowed(ingest):
    assert ingest.get(URL).status_code == 405


def test_documented_in_openapi(client_for, viewer):
    schema = client_for(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][URL]["post"]
    assert set(operation["responses"]) >= {"200", "400"}
    components = schema["components"]["schemas"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    events = components[request_ref.rsplit("/", 1)[1]]["properties"]["events"]
    assert events["maxItems"] == 1000
    item = components[events["items"]["$ref"].rsplit("/", 1)[1]]
    assert {"message_id", "type", "occurred_at"} <= set(item["required"])
