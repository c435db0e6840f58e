"""demo_users: two leads per team and a viewer, idempotent, with roles that grant the right permissions,
and enough leads that a version proposed by one is approved by others (four eyes)."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import Client

from demo.management.commands.demo_users import DEMO_PASSWORD
from revops.choices import Role, TeamKind
from revops.models import Membership, Team
from scoring import workflow
from scoring.choices import RulesetStatus
from tests.scoring.factories import starter_ruleset

User = get_user_model()
EXPECTED = {
    "marketing": (TeamKind.MARKETING, Role.LEAD),
    "marketing2": (TeamKind.MARKETING, Role.LEAD),
    "sales": (TeamKind.SALES, Role.LEAD),
    "sales2": (TeamKind.SALES, Role.LEAD),
    "bdr": (TeamKind.BDR, Role.LEAD),
    "bdr2": (TeamKind.BDR, Role.LEAD),
    "success": (TeamKind.CUSTOMER_SUCCESS, Role.LEAD),
    "success2": (TeamKind.CUSTOMER_SUCCESS, Role.LEAD),
    "revops": (TeamKind.REVENUE_OPERATIONS, Role.LEAD),
    "revops2": (TeamKind.REVENUE_OPERATIONS, Role.LEAD),
    "viewer": (TeamKind.MARKETING, Role.VIEWER),
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
def test_creates_two_leads_per_team_and_a_viewer_once():
    output = run()
    assert "http://127.0.0.1:8000/" in output
    for username, (kind, role) in EXPECTED.items():
        row = next(line for line in output.splitlines() if line.split()[:1] == [username])
        assert Role(role).label.lower() in row and DEMO_PASSWORD in row  # the printed login
        membership = Membership.objects.get(user__username=username)
        assert (membership.team.kind, membership.role) == (kind, role)
    leads = Membership.objects.filter(role=Role.LEAD)
    for kind in TeamKind.values:
        assert leads.filter(team__kind=kind).count() == 2, kind
    assert "Created: marketing, marketing2" in output and "Four eyes" in output
    assert Team.objects.count() == 5

    again = run()
    assert "Created" not in again
    assert User.objects.count() == 11 and Membership.objects.count() == 11 and Team.objects.count() == 5


@pytest.mark.django_db
def test_roles_grant_permissions():
    run()
    users = {u.username: u for u in User.objects.all()}
    revops = users["revops"]
    assert (
        revops.is_staff and revops.has_perm("revops.add_team") and revops.has_perm("revops.view_changerecord")
    )
    assert users["marketing"].has_perm("accounts.delete_account") and not users["marketing"].is_staff
    assert users["bdr"].has_perm("accounts.add_contact") and users["bdr2"].has_perm("accounts.delete_account")
    assert users["success"].has_perm("accounts.view_opportunity") and not users["success"].has_perm(
        "revops.add_team"
    )
    assert users["viewer"].has_perm("accounts.view_account") and not users["viewer"].has_perm(
        "accounts.add_contact"
    )


@pytest.mark.django_db
def test_a_demo_lead_proposes_and_two_other_leads_approve():
    """What the printed hint says works: marketing proposes, marketing2 and sales approve, sales2
    publishes; the proposer is refused and is not offered Approve, nor is the viewer anything."""
    run()
    users = {u.username: u for u in User.objects.all()}
    starter_ruleset()
    draft = workflow.ruleset_draft_create(user=users["marketing"])
    workflow.ruleset_propose(ruleset=draft, user=users["marketing"])
    assert "approve" not in workflow.RULESETS.actions_for(users["marketing"], draft)
    with pytest.raises(PermissionDenied, match="Four eyes"):
        workflow.ruleset_approve(ruleset=draft, user=users["marketing"])
    for approver in ("marketing2", "sales"):
        assert "approve" in workflow.RULESETS.actions_for(users[approver], draft)
        workflow.ruleset_approve(ruleset=draft, user=users[approver])
    assert draft.status == RulesetStatus.APPROVED
    assert "publish" in workflow.RULESETS.actions_for(users["sales2"], draft)
    assert workflow.RULESETS.actions_for(users["viewer"], draft) == set()


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
