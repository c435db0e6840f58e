"""demo_users: one login per team, idempotent, with roles that grant the right permissions."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import Client

from demo.management.commands.demo_users import DEMO_PASSWORD
from revops.choices import Role, TeamKind
from revops.models import Membership, Team

User = get_user_model()
EXPECTED = {
    "marketing": (TeamKind.MARKETING, Role.LEAD),
    "sales": (TeamKind.SALES, Role.LEAD),
    "bdr": (TeamKind.BDR, Role.MEMBER),
    "success": (TeamKind.CUSTOMER_SUCCESS, Role.MEMBER),
    "revops": (TeamKind.REVENUE_OPERATIONS, Role.LEAD),
}


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args: str) -> str:
    out = StringIO()
    # pytest-django runs with DEBUG off, which the command treats as production.
    call_command("demo_users", "--force", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_creates_one_user_per_team_once():
    output = run()
    assert "http://127.0.0.1:8000/" in output
    for username, (kind, role) in EXPECTED.items():
        assert username in output
        membership = Membership.objects.get(user__username=username)
        assert (membership.team.kind, membership.role) == (kind, role)
    assert "revops-demo" in output and "Created: marketing" in output
    assert Team.objects.count() == 5

    again = run()
    assert "Created" not in again
    assert User.objects.count() == 5 and Membership.objects.count() == 5 and Team.objects.count() == 5


@pytest.mark.django_db
def test_roles_grant_permissions():
    run()
    users = {u.username: u for u in User.objects.all()}
    revops = users["revops"]
    assert (
        revops.is_staff and revops.has_perm("revops.add_team") and revops.has_perm("revops.view_changerecord")
    )
    assert users["marketing"].has_perm("accounts.delete_account") and not users["marketing"].is_staff
    assert users["bdr"].has_perm("accounts.add_contact") and not users["bdr"].has_perm(
        "accounts.delete_account"
    )
    assert users["success"].has_perm("accounts.view_opportunity") and not users["success"].has_perm(
        "revops.add_team"
    )


@pytest.mark.django_db
def test_login_works_and_only_revops_gets_admin():
    run()
    client = Client()
    assert client.login(request=HttpRequest(), username="revops", password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200
    bdr = Client()
    assert bdr.login(request=HttpRequest(), username="bdr", password=DEMO_PASSWORD)
    assert bdr.get("/admin/").status_code == 302  # to the admin login: not staff


@pytest.mark.django_db
def test_rerun_restores_the_demo_password_and_role():
    run()
    user = User.objects.get(username="sales")
    user.set_password("something-else")
    user.save()
    Membership.objects.filter(user=user).update(role=Role.VIEWER)
    run()
    user.refresh_from_db()
    assert user.check_password(DEMO_PASSWORD)
    assert Membership.objects.get(user=user).role == Role.LEAD
    assert user.has_perm("accounts.delete_account")


@pytest.mark.django_db
def test_custom_password_and_production_guard(settings):
    run("--password", "another-demo-secret")
    assert Client().login(request=HttpRequest(), username="bdr", password="another-demo-secret")
    settings.DEBUG = False
    with pytest.raises(CommandError, match="production"):
        call_command("demo_users", stdout=StringIO())
