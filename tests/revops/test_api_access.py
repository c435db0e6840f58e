"""Who may do what through the API, for every endpoint; tokens and their scopes."""

import datetime

import pytest
from django.utils import timezone

from revops import services
from revops.choices import Role, TeamKind
from revops.models import ApiToken
from tests.accounts.factories import AccountFactory

LIST_ENDPOINTS = [
    "/api/accounts/",
    "/api/contacts/",
    "/api/personas/",
    "/api/opportunities/",
    "/api/technologies/",
    "/api/products/",
    "/api/sales-agents/",
    "/api/events/",
    "/api/channels/",
    "/api/campaigns/",
    "/api/teams/",
]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_anonymous_is_refused_everywhere(api_client, url):
    response = api_client.get(url)
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_user_in_no_team_is_refused(client_for, outsider, url):
    assert client_for(outsider).get(url).status_code == 403


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_viewer_reads_but_cannot_write(client_for, viewer, url):
    client = client_for(viewer)
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "x"}, format="json").status_code == 403


def test_member_creates_but_only_lead_deletes(client_for, user_in):
    member = user_in(TeamKind.MARKETING, Role.MEMBER)
    lead = user_in(TeamKind.SALES, Role.LEAD)
    created = client_for(member).post("/api/accounts/", {"name": "Acme", "domain": "acme.com"}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/accounts/{created.json()['id']}/"
    assert client_for(member).delete(url).status_code == 403
    assert client_for(lead).delete(url).status_code == 204


def test_only_revops_manages_teams(client_for, user_in, revops_admin):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    payload = {"name": "Partners", "kind": "sales"}
    assert client_for(lead).post("/api/teams/", payload, format="json").status_code == 403
    response = client_for(revops_admin).post("/api/teams/", payload, format="json")
    assert response.status_code == 201
    team_id = response.json()["id"]
    other = user_in(TeamKind.MARKETING, Role.VIEWER, username="newbie")
    response = client_for(lead).post(f"/api/teams/{team_id}/members/", {"user": "newbie", "role": "lead"})
    assert response.status_code == 403
    response = client_for(revops_admin).post(
        f"/api/teams/{team_id}/members/", {"user": "newbie", "role": "lead"}
    )
    assert response.status_code == 200
    other.refresh_from_db()
    assert other.has_perm("accounts.delete_account")


# --- API tokens --------------------------------------------------------------------------------
def _token_client(api_client, key):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def test_token_is_shown_once_and_stored_hashed(client_for, user_in):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    response = client_for(lead).post("/api/tokens/", {"name": "CRM sync", "scopes": ["read"]}, format="json")
    assert response.status_code == 201
    key = response.json()["key"]
    assert key.startswith("rvo_")
    token = ApiToken.objects.get()
    assert key not in (token.key_hash, token.prefix) and token.key_hash != key
    listed = client_for(lead).get("/api/tokens/").json()["results"]
    assert "key" not in listed[0]


def test_member_cannot_create_tokens(client_for, member):
    response = client_for(member).post("/api/tokens/", {"name": "x", "scopes": ["read"]}, format="json")
    assert response.status_code == 403


def test_token_scopes_limit_methods(api_client, user_in):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    _, read_key = services.api_token_create(actor=lead, user=lead, name="r", scopes=["read"])
    client = _token_client(api_client, read_key)
    assert client.get("/api/accounts/").status_code == 200
    assert client.post("/api/accounts/", {"name": "A"}, format="json").status_code == 403
    _, write_key = services.api_token_create(actor=lead, user=lead, name="w", scopes=["read", "write"])
    client = _token_client(api_client, write_key)
    assert client.post("/api/accounts/", {"name": "A"}, format="json").status_code == 201


def test_token_never_exceeds_its_users_permissions(api_client, viewer):
    _, key = services.api_token_create(actor=viewer, user=viewer, name="w", scopes=["read", "write"])
    response = _token_client(api_client, key).post("/api/accounts/", {"name": "A"}, format="json")
    assert response.status_code == 403


def test_revoked_expired_and_wrong_tokens_fail(api_client, user_in, client_for):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    token, key = services.api_token_create(actor=lead, user=lead, name="r", scopes=["read"])
    assert _token_client(api_client, key).get("/api/accounts/").status_code == 200
    assert client_for(lead).post(f"/api/tokens/{token.pk}/revoke/").status_code == 200
    assert _token_client(api_client, key).get("/api/accounts/").status_code == 401
    _, expired = services.api_token_create(
        actor=lead,
        user=lead,
        name="e",
        scopes=["read"],
        expires_at=timezone.now() - datetime.timedelta(seconds=1),
    )
    assert _token_client(api_client, expired).get("/api/accounts/").status_code == 401
    assert _token_client(api_client, "rvo_nope").get("/api/accounts/").status_code == 401


def test_a_token_cannot_be_created_already_expired(client_for, user_in):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    past = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()
    body = {"name": "x", "scopes": ["read"], "expires_at": past}
    response = client_for(lead).post("/api/tokens/", body, format="json")
    assert response.status_code == 400 and "expires_at" in response.json()
    assert not ApiToken.objects.exists()
    soon = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    response = client_for(lead).post("/api/tokens/", body | {"expires_at": soon}, format="json")
    assert response.status_code == 201


def test_bad_scopes_are_rejected(client_for, user_in):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    response = client_for(lead).post("/api/tokens/", {"name": "x", "scopes": ["admin"]}, format="json")
    assert response.status_code == 400 and "scopes" in response.json()
    assert not ApiToken.objects.exists()


def test_query_count_of_account_list_does_not_grow(client_for, viewer, django_assert_max_num_queries):
    for _ in range(30):
        AccountFactory()
    client = client_for(viewer)
    with django_assert_max_num_queries(10):
        response = client.get("/api/accounts/?page_size=30")
    assert len(response.json()["results"]) == 30
