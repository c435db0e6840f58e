"""Issue 12, authorisation: the lifecycle stage is read-only outside the lifecycle services, tokens
cannot mint wider tokens, role groups follow every change of teams, memberships and users, and import
jobs are their creator's (without server paths)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.choices import LifecycleStage
from accounts.models import Account, Contact
from imports.services import JOB_KIND_PREFIX, csv_import, import_upload_create
from revops import services
from revops.choices import Role, TeamKind
from revops.models import ApiToken, JobRun, Membership, Team
from revops.querysets import IMPORT_JOB_KIND_PREFIX
from scoring.models import LifecycleTransition
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.revops.factories import TeamFactory

pytestmark = pytest.mark.django_db


def token_client(user, scopes):
    from rest_framework.test import APIClient

    _, key = services.api_token_create(actor=user, user=user, name="t", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


# --- 1. the lifecycle stage moves only through the lifecycle services ---------------------------------
@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (TeamKind.MARKETING, Role.LEAD),
        (TeamKind.MARKETING, Role.MEMBER),
        (TeamKind.CUSTOMER_SUCCESS, Role.MEMBER),
    ],
)
def test_api_patch_of_the_stage_is_a_400_naming_the_decision_endpoints(client_for, user_in, kind, role):
    contact = ContactFactory()
    response = client_for(user_in(kind, role)).patch(
        f"/api/contacts/{contact.pk}/", {"lifecycle_stage": "sql"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "/api/lifecycle/contacts/{id}/" in response.json()["lifecycle_stage"][0]
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.LEAD
    assert not LifecycleTransition.objects.exists()


def test_api_create_with_a_stage_is_refused_and_a_document_sent_back_unchanged_is_fine(client_for, member):
    client = client_for(member)
    created = client.post("/api/contacts/", {"email": "a@acme.com", "lifecycle_stage": "mql"}, format="json")
    assert created.status_code == 400 and "lifecycle_stage" in created.json()
    created = client.post("/api/contacts/", {"email": "a@acme.com"}, format="json")
    assert created.status_code == 201 and created.json()["lifecycle_stage"] == "lead"
    document = {k: v for k, v in created.json().items() if k not in {"id", "created", "updated"}}
    response = client.put(
        f"/api/contacts/{created.json()['id']}/", {**document, "title": "CFO"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "CFO" and response.json()["lifecycle_stage"] == "lead"


def test_admin_shows_the_stage_read_only(revops_admin):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    client = Client()
    client.force_login(revops_admin)
    url = f"/admin/accounts/contact/{contact.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="lifecycle_stage"' not in page.content.decode()
    response = client.post(
        url,
        {
            "email": contact.email,
            "account": contact.account_id,
            "seniority": contact.seniority,
            "department": contact.department,
            "lifecycle_stage": "customer",
            "custom": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.MQL


def test_import_sets_a_new_contacts_starting_stage_with_a_transition_and_never_moves_a_stored_one(
    tmp_path, member
):
    stored = ContactFactory(email="old@acme.com", lifecycle_stage=LifecycleStage.LEAD)
    path = tmp_path / "contacts.csv"
    path.write_text(
        "email,lifecycle_stage,title\nold@acme.com,sql,CFO\nnew@acme.com,mql,CEO\nlead@acme.com,lead,\n"
    )
    report = csv_import(kind="contacts", path=path, actor=member, filename="contacts.csv")
    assert report.ok and report.written
    stored.refresh_from_db()
    assert (stored.lifecycle_stage, stored.title) == (LifecycleStage.LEAD, "CFO")  # the rest is imported
    warnings = {
        (w["column"], w["rows"][0])
        for w in report.as_dict()["warnings"]
        if "stage not changed" in w["message"]
    }
    assert warnings == {("lifecycle_stage", 2)}
    new = Contact.objects.get(email="new@acme.com")
    assert new.lifecycle_stage == LifecycleStage.MQL
    transition = LifecycleTransition.objects.get()
    assert (transition.contact, transition.from_stage, transition.to_stage, transition.actor) == (
        new, LifecycleStage.LEAD, LifecycleStage.MQL, member
    )  # fmt: skip
    assert "CSV import" in transition.reason
    assert Contact.objects.get(email="lead@acme.com").lifecycle_stage == LifecycleStage.LEAD
    assert report.extra["starting_stages_recorded"] == 1


# --- 2. a token mints only tokens within its own scopes ------------------------------------------------
def test_a_write_only_token_cannot_create_a_wider_token(user_in):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    client = token_client(lead, ["write"])
    response = client.post(
        "/api/tokens/", {"name": "x", "scopes": ["read", "write", "ingest"]}, format="json"
    )
    assert response.status_code == 403
    assert "lacks ingest, read" in response.json()["detail"]
    assert ApiToken.objects.count() == 1
    narrower = client.post("/api/tokens/", {"name": "y", "scopes": ["write"]}, format="json")
    assert narrower.status_code == 201 and narrower.json()["scopes"] == ["write"]


def test_a_signed_in_lead_creates_any_scopes(client_for, user_in):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    response = client_for(lead).post(
        "/api/tokens/", {"name": "all", "scopes": ["read", "write", "ingest"]}, format="json"
    )
    assert response.status_code == 201 and response.json()["scopes"] == ["ingest", "read", "write"]


# --- 3. permissions follow every change of teams, memberships and users --------------------------------
def test_former_lead_cannot_delete_accounts_after_the_team_is_deleted(client_for, user_in, revops_admin):
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    team = Team.objects.get(kind=TeamKind.MARKETING)
    assert client_for(revops_admin).delete(f"/api/teams/{team.pk}/").status_code == 204
    account = AccountFactory()
    assert client_for(lead).delete(f"/api/accounts/{account.pk}/").status_code == 403
    assert Account.objects.filter(pk=account.pk).exists()


def test_team_deleted_in_admin_takes_its_permissions(user_in, revops_admin):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    team = Team.objects.get(kind=TeamKind.SALES)
    client = Client()
    client.force_login(revops_admin)
    assert client.post(f"/admin/revops/team/{team.pk}/delete/", {"post": "yes"}).status_code == 302
    lead.refresh_from_db()
    assert not lead.groups.exists() and not lead.has_perm("accounts.delete_account")


def test_former_revops_member_cannot_create_teams_after_the_kind_changes(client_for, user_in, revops_admin):
    member = user_in(TeamKind.REVENUE_OPERATIONS, Role.MEMBER)
    team = Team.objects.get(kind=TeamKind.REVENUE_OPERATIONS)
    other = TeamFactory(kind=TeamKind.SALES)  # the admin stays revops through another team
    services.membership_set(actor=None, user=revops_admin, team=other, role=Role.LEAD)
    assert (
        client_for(member).post("/api/teams/", {"name": "A", "kind": "sales"}, format="json").status_code
        == 201
    )
    response = client_for(member).patch(f"/api/teams/{team.pk}/", {"kind": "customer_success"}, format="json")
    assert response.status_code == 200, response.content
    assert (
        client_for(member).post("/api/teams/", {"name": "B", "kind": "sales"}, format="json").status_code
        == 403
    )
    member.refresh_from_db()
    assert not member.is_staff


def test_kind_changed_in_admin_changes_its_members_permissions(user_in, revops_admin):
    sales = user_in(TeamKind.SALES, Role.MEMBER)
    team = Team.objects.get(kind=TeamKind.SALES)
    client = Client()
    client.force_login(revops_admin)
    response = client.post(
        f"/admin/revops/team/{team.pk}/change/",
        {
            "name": team.name, "slug": team.slug, "kind": TeamKind.REVENUE_OPERATIONS, "description": "",
            "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(Membership.objects.get(user=sales).pk),
            "memberships-0-team": str(team.pk),
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    sales.refresh_from_db()
    assert sales.has_perm("revops.add_team") and sales.is_staff


def test_membership_deleted_takes_its_permissions(client_for, user_in, revops_admin):
    member = user_in(TeamKind.MARKETING, Role.MEMBER)
    membership = Membership.objects.get(user=member)
    membership.delete()  # the plainest path (a script, a cascade): the signal still syncs
    assert client_for(member).post("/api/accounts/", {"name": "A"}, format="json").status_code == 403


def test_deactivated_user_is_refused_by_session_and_token(client_for, user_in):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    session = client_for(lead)
    token = token_client(lead, ["read"])
    assert session.get("/api/accounts/").status_code == 200 and token.get("/api/accounts/").status_code == 200
    lead.is_active = False
    lead.save()
    assert session.get("/api/accounts/").status_code in (401, 403)
    assert token.get("/api/accounts/").status_code == 401
    lead.refresh_from_db()
    assert not lead.groups.exists()
    lead.is_active = True
    lead.save()
    lead.refresh_from_db()
    assert lead.has_perm("accounts.delete_account")  # reactivated: the memberships' groups are back


# --- 4. import jobs are their creator's, and no server path is shown ----------------------------------
def _upload_job(user) -> JobRun:
    upload = SimpleUploadedFile("secret-accounts.csv", b"name,domain\nAcme,acme.com\nBad,\n")
    job = import_upload_create(actor=user, kind="accounts", upload=upload)
    job.result = {"errors": [{"row": 3, "data": {"name": "Bad"}}]}
    job.params["errors_file"] = f"imports/{job.pk}/errors.csv"
    job.save()
    return job


def test_import_jobs_are_scoped_like_the_import_pages(client_for, user_in, revops_admin):
    owner = user_in(TeamKind.MARKETING, Role.MEMBER)
    other = user_in(TeamKind.SALES, Role.LEAD)
    job = _upload_job(owner)
    rescore = JobRun.objects.create(kind="rescore", created_by=owner)
    assert client_for(other).get(f"/api/jobs/{job.pk}/").status_code == 404
    listed = [j["id"] for j in client_for(other).get("/api/jobs/").json()["results"]]
    assert job.pk not in listed and rescore.pk in listed  # shared work stays visible
    for user in (owner, revops_admin):
        response = client_for(user).get(f"/api/jobs/{job.pk}/")
        assert response.status_code == 200
        assert response.json()["result"]["errors"][0]["data"] == {"name": "Bad"}


def test_no_job_answer_shows_a_server_path(client_for, user_in, revops_admin, settings):
    owner = user_in(TeamKind.MARKETING, Role.MEMBER)
    job = _upload_job(owner)
    assert job.params["path"].startswith(settings.MEDIA_ROOT)
    for user in (owner, revops_admin):
        for url in (f"/api/jobs/{job.pk}/", "/api/jobs/"):
            body = client_for(user).get(url).content.decode()
            assert settings.MEDIA_ROOT not in body and "imports/" not in body, body
            assert "secret-accounts.csv" in body  # the file's own name is fine
    document = client_for(owner).get(f"/api/jobs/{job.pk}/").json()
    assert not {"path", "file", "errors_file"} & set(document["params"])


def test_the_import_pages_use_the_same_scope(user_in):
    owner = user_in(TeamKind.MARKETING, Role.MEMBER)
    other = user_in(TeamKind.MARKETING, Role.MEMBER)
    job = _upload_job(owner)
    client = Client()
    client.force_login(other)
    assert client.get(reverse("imports:import_preview", args=[job.pk])).status_code == 404
    assert JOB_KIND_PREFIX == IMPORT_JOB_KIND_PREFIX  # the import pages' jobs are the ones scoped
