"""The API tokens page (/settings/tokens/): who sees and creates tokens, with which scopes, the key shown
once, revoking, and the last use recorded through a real API call."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from revops import authentication, services
from revops.authentication import token_hash
from revops.choices import Role, TeamKind
from revops.models import ApiToken, ChangeRecord
from revops.permissions import token_scopes_grantable

pytestmark = pytest.mark.django_db

LIST = "/settings/tokens/"


def revoke_url(token) -> str:
    return reverse("revops:apitoken_revoke", kwargs={"pk": token.pk})


@pytest.fixture
def lead(user_in):
    return user_in(TeamKind.SALES, Role.LEAD)


def signed_in(client, user):
    client.force_login(user)
    return client


def test_the_page_is_linked_from_the_user_menu_for_those_who_may_see_it(client, lead, member):
    assert f'href="{LIST}"' in signed_in(client, lead).get("/").content.decode()
    assert f'href="{LIST}"' not in signed_in(client, member).get("/").content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_viewers_and_members_get_403_as_on_the_api(client, user_in, role):
    user = user_in(TeamKind.MARKETING, role)
    signed_in(client, user)
    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {"name": "x", "scopes": ["read"]}).status_code == 403
    assert not ApiToken.objects.exists()


def test_anonymous_is_sent_to_login(client):
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("kind", [TeamKind.SALES, TeamKind.REVENUE_OPERATIONS])
def test_a_lead_or_revops_creates_a_token_and_sees_the_key_exactly_once(client, user_in, kind):
    user = user_in(kind, Role.LEAD)
    signed_in(client, user)
    form = client.get(LIST).content.decode()
    for scope in ("read", "write", "ingest"):
        assert f'value="{scope}"' in form

    response = client.post(LIST, {"name": "CRM sync", "scopes": ["read", "ingest"]})
    assert response.status_code == 302 and response["Location"] == LIST
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.scopes) == (user, "CRM sync", ["ingest", "read"])

    shown = client.get(LIST)
    assert shown["Cache-Control"] == "no-store"
    page = shown.content.decode()
    start = page.index('id="token-key" value="') + len('id="token-key" value="')
    key = page[start : page.index('"', start)]
    # The key shown is the token's: only its hash is stored.
    assert key.startswith(token.prefix) and token_hash(key) == token.key_hash
    assert key not in ApiToken.objects.values_list("key_hash", flat=True)

    again = client.get(LIST).content.decode()
    assert key not in again and 'id="token-key"' not in again
    assert "CRM sync" in again and token.prefix in again
    assert ChangeRecord.objects.filter(object_type__model="apitoken", action="create").count() == 1


def test_bad_input_shows_errors_and_creates_nothing(client, lead):
    signed_in(client, lead)
    cases = [
        ({"name": "", "scopes": ["read"]}, "error-name"),
        ({"name": "   ", "scopes": ["read"]}, "error-name"),
        ({"name": "x"}, "error-scopes"),
        ({"name": "x", "scopes": ["admin"]}, "error-scopes"),
        ({"name": "x" * 101, "scopes": ["read"]}, "error-name"),
        ({"name": "x", "scopes": ["read"], "expires_on": str(timezone.now().date())}, "error-expires_on"),
        ({"name": "x", "scopes": ["read"], "expires_on": "31/02/2030"}, "error-expires_on"),
    ]
    for data, error in cases:
        response = client.post(LIST, data)
        assert response.status_code == 400, data
        page = response.content.decode()
        assert f'id="{error}"' in page and "No token was created" in page, data
    assert not ApiToken.objects.exists()
    assert "api_token_key_once" not in client.session


def test_an_expiry_day_is_kept(client, lead):
    signed_in(client, lead)
    day = timezone.now().date() + datetime.timedelta(days=30)
    assert client.post(LIST, {"name": "x", "scopes": ["read"], "expires_on": str(day)}).status_code == 302
    expires = ApiToken.objects.get().expires_at
    assert expires == datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def test_only_scopes_the_users_permissions_could_use_are_offered_and_accepted(client, lead, monkeypatch):
    # A lead of an app whose permissions the ingest scope needs is offered ingest; remove that need's
    # permission from what the user holds and ingest is neither offered nor accepted.
    held = lead.get_all_permissions() - {"accounts.add_engagementevent"}
    monkeypatch.setattr(type(lead), "get_all_permissions", lambda self, obj=None: held)
    assert token_scopes_grantable(lead) == ["read", "write"]
    signed_in(client, lead)
    page = client.get(LIST).content.decode()
    assert 'value="read"' in page and 'value="ingest"' not in page
    response = client.post(LIST, {"name": "x", "scopes": ["read", "ingest"]})
    assert response.status_code == 400 and "ingest" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_grantable_scopes_follow_each_roles_permissions(user_in, viewer, member, lead, revops_admin):
    assert token_scopes_grantable(viewer) == ["read"]
    assert token_scopes_grantable(member) == ["read", "write", "ingest"]
    assert token_scopes_grantable(lead) == ["read", "write", "ingest"]
    assert token_scopes_grantable(revops_admin) == ["read", "write", "ingest"]


def test_the_api_refuses_a_scope_the_users_permissions_could_not_use(client_for, lead, monkeypatch):
    held = lead.get_all_permissions() - {"accounts.add_engagementevent"}
    monkeypatch.setattr(type(lead), "get_all_permissions", lambda self, obj=None: held)
    response = client_for(lead).post("/api/tokens/", {"name": "x", "scopes": ["ingest"]}, format="json")
    assert response.status_code == 403 and "ingest" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_csrf_is_enforced_on_create_and_revoke(lead):
    token, _ = services.api_token_create(actor=lead, user=lead, name="t", scopes=["read"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.post(LIST, {"name": "x", "scopes": ["read"]}).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    assert ApiToken.objects.count() == 1
    token.refresh_from_db()
    assert token.revoked_at is None
    # With the form's token it works.
    page = client.get(LIST).content.decode()
    csrf = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post(LIST, {"name": "x", "scopes": ["read"], "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302 and ApiToken.objects.count() == 2


def test_revoke_asks_first_then_revokes_and_the_token_stops_working(client, lead, api_client):
    token, key = services.api_token_create(actor=lead, user=lead, name="Feed", scopes=["read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/teams/").status_code == 200
    signed_in(client, lead)
    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200 and "Revoke “Feed”?" in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # GET only asks

    response = client.post(revoke_url(token))
    assert response.status_code == 302 and response["Location"] == LIST
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get(LIST).content.decode()
    assert api_client.get("/api/teams/").status_code == 401
    assert ChangeRecord.objects.filter(object_type__model="apitoken", action="revoke").count() == 1
    # Twice changes nothing.
    client.post(revoke_url(token))
    assert ChangeRecord.objects.filter(object_type__model="apitoken", action="revoke").count() == 1


def test_another_users_token_is_neither_listed_nor_revocable(client, lead, user_in):
    other = user_in(TeamKind.MARKETING, Role.LEAD)
    theirs, _ = services.api_token_create(actor=other, user=other, name="Theirs", scopes=["read"])
    signed_in(client, lead)
    assert "Theirs" not in client.get(LIST).content.decode()
    assert client.get(revoke_url(theirs)).status_code == 404
    assert client.post(revoke_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_revops_sees_and_revokes_everyones_tokens_as_on_the_api(client, lead, revops_admin):
    theirs, _ = services.api_token_create(actor=lead, user=lead, name="Sales feed", scopes=["read"])
    signed_in(client, revops_admin)
    page = client.get(LIST).content.decode()
    assert "Sales feed" in page and lead.username in page
    assert client.post(revoke_url(theirs)).status_code == 302
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None
    record = ChangeRecord.objects.get(object_type__model="apitoken", action="revoke")
    assert record.actor == revops_admin


def test_a_member_cannot_revoke_even_their_own_token(client, member):
    token, _ = services.api_token_create(actor=member, user=member, name="t", scopes=["read"])
    signed_in(client, member)
    assert client.post(revoke_url(token)).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_last_used_is_recorded_through_an_api_call_at_most_once_a_minute(client, lead, api_client):
    token, key = services.api_token_create(actor=lead, user=lead, name="Feed", scopes=["read"])
    assert token.last_used_at is None
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/teams/").status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None and timezone.now() - first < datetime.timedelta(seconds=30)
    # Within the minute: no new write.
    assert api_client.get("/api/teams/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first
    # A minute later it moves on.
    earlier = first - authentication.LAST_USED_RESOLUTION - datetime.timedelta(seconds=1)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    assert api_client.get("/api/teams/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first
    # And the page shows it.
    signed_in(client, lead)
    row = client.get(LIST).content.decode().split(f'id="token-{token.pk}"')[1].split("</tr>")[0]
    cells = row.split("</td>")  # name, key, scopes, created, last used, expires
    assert "never" not in cells[4] and "never" in cells[5]
