"""The accounts and contacts API read and write owner and owning team, and filter by them."""

import pytest

from accounts.models import Account
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord, Team
from tests.accounts.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_accounts_api_writes_and_reads_owner_and_owning_team(client_for, user_in):
    seller = user_in(TeamKind.SALES, Role.MEMBER)
    sales = Team.objects.get(kind=TeamKind.SALES)
    client = client_for(seller)
    response = client.post(
        "/api/accounts/", {"name": "Acme", "domain": "acme.com", "owner": seller.pk, "owner_team": sales.pk}
    )
    assert response.status_code == 201, response.json()
    body = client.get(f"/api/accounts/{response.json()['id']}/").json()
    assert (body["owner"], body["owner_team"]) == (seller.pk, sales.pk)
    record = ChangeRecord.objects.get(object_type__model="account", action="create")
    assert record.after["owner_team_id"] == sales.pk
    AccountFactory(name="Other")
    listed = client.get("/api/accounts/", {"owner_team": sales.pk}).json()["results"]
    assert [a["name"] for a in listed] == ["Acme"]
    assert [a["name"] for a in client.get("/api/accounts/", {"has_owner": "false"}).json()["results"]] == [
        "Other"
    ]


def test_accounts_filter_by_a_list_of_ids(client_for, viewer):
    a, b, c = AccountFactory.create_batch(3)
    listed = client_for(viewer).get("/api/accounts/", {"id": f"{a.pk},{c.pk}"}).json()["results"]
    assert sorted(x["id"] for x in listed) == [a.pk, c.pk]
    assert client_for(viewer).get("/api/accounts/", {"id": "1,x"}).status_code == 400


def test_contacts_api_writes_owner_and_owning_team_and_refuses_unknown_ones(client_for, user_in):
    seller = user_in(TeamKind.SALES, Role.MEMBER)
    sales = Team.objects.get(kind=TeamKind.SALES)
    contact = ContactFactory()
    client = client_for(seller)
    response = client.patch(f"/api/contacts/{contact.pk}/", {"owner": seller.pk, "owner_team": sales.pk})
    assert response.status_code == 200 and response.json()["owner_team"] == sales.pk
    bad = client.patch(f"/api/contacts/{contact.pk}/", {"owner": 999999, "owner_team": 999999})
    assert bad.status_code == 400 and {"owner", "owner_team"} <= set(bad.json())
    assert client.get("/api/contacts/", {"owner_team": sales.pk}).json()["results"][0]["id"] == contact.pk
    assert Account.objects.count() == 1


def test_the_account_and_contact_pages_show_and_edit_the_owning_team(client, user_in):
    seller = user_in(TeamKind.SALES, Role.MEMBER)
    sales = Team.objects.get(kind=TeamKind.SALES)
    account = AccountFactory(owner=seller, owner_team=sales)
    contact = ContactFactory(account=account, owner=seller, owner_team=sales)
    client.force_login(seller)
    assert "· Sales" in client.get(f"/accounts/{account.pk}/").content.decode()
    assert "(Sales)" in client.get(f"/accounts/contacts/{contact.pk}/").content.decode()
    form = client.get(f"/accounts/{account.pk}/edit/").content.decode()
    assert 'name="owner_team"' in form and 'name="owner"' in form
