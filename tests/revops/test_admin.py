"""Django admin: for revenue-operations admins only, and audited like the API."""

import pytest

from accounts.models import Account
from revops.choices import Role, TeamKind
from revops.models import ApiToken, ChangeRecord
from tests.accounts.factories import AccountFactory
from tests.revops.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_only_revops_members_reach_admin(client, user_in, revops_admin):
    sales_lead = user_in(TeamKind.SALES, Role.LEAD)
    client.force_login(sales_lead)
    assert client.get("/admin/").status_code == 302  # to the admin login: not staff
    client.force_login(revops_admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/account/").status_code == 200


def test_admin_edit_is_audited_with_before_and_after(client, revops_admin):
    account = AccountFactory(name="Old name", employee_count=10)
    client.force_login(revops_admin)
    response = client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {
            "name": "New name",
            "domain": account.domain,
            "industry": "software",
            "employee_count": 10,
            "country": "US",
            "custom": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    record = ChangeRecord.objects.get(object_type__model="account", action="update")
    assert record.actor == revops_admin
    assert (record.before["name"], record.after["name"]) == ("Old name", "New name")


def test_admin_rejects_negative_employee_count(client, revops_admin):
    client.force_login(revops_admin)
    response = client.post(
        "/admin/accounts/account/add/", {"name": "Bad", "employee_count": -3, "custom": "{}"}
    )
    assert response.status_code == 200 and "employee_count" in response.content.decode()
    assert not Account.objects.exists()


def test_admin_membership_grants_role_permissions(client, revops_admin):
    newbie = UserFactory(username="newbie")
    team = TeamFactory(kind=TeamKind.MARKETING)
    client.force_login(revops_admin)
    response = client.post(
        "/admin/revops/membership/add/", {"user": newbie.pk, "team": team.pk, "role": "member"}
    )
    assert response.status_code == 302
    newbie.refresh_from_db()
    assert newbie.has_perm("accounts.add_account") and not newbie.has_perm("accounts.delete_account")


def test_admin_token_key_is_shown_once_and_hashed(client, revops_admin):
    client.force_login(revops_admin)
    response = client.post(
        "/admin/revops/apitoken/add/",
        {"name": "Warehouse sync", "user": revops_admin.pk, "scopes": '["read", "ingest"]'},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any("rvo_" in m for m in shown)
    key = next(m for m in shown if "rvo_" in m).split(" is ")[1].split(" ")[0]
    assert token.key_hash != key and token.scopes == ["ingest", "read"]


def test_admin_lists_show_people_by_their_full_names(client, revops_admin):
    revops_admin.first_name, revops_admin.last_name = "Rita", "Ørsted"
    revops_admin.save()
    account = AccountFactory(name="Old name", employee_count=10)
    client.force_login(revops_admin)
    client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {"name": "New", "domain": account.domain, "industry": "software", "employee_count": 10}
        | {"country": "US", "custom": "{}"},
    )
    for url in ("/admin/revops/changerecord/", "/admin/revops/membership/"):
        html = client.get(url).content.decode()
        assert "Rita Ørsted" in html, url
