"""The import pages with a CRM's contacts export: the stage column ("Lead Status") said and recorded
through the lifecycle service, seniority and persona from titles, rows longer than the header."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Contact
from revops.choices import JobStatus, Role, TeamKind
from revops.models import JobRun
from scoring.choices import LifecycleDecision
from scoring.models import LifecycleTransition
from tests.accounts.factories import ContactFactory, PersonaFactory

pytestmark = pytest.mark.django_db

LEADS = b"""\
Email,First Name,Title,Lead Status
stored@acme.com,Stella,CFO,Working - Contacted
rita@acme.com,Rita,Head of RevOps,Working - Contacted
sam@acme.com,Sam,"VP, Sales",Marketing Qualified Lead
nina@acme.com,Nina,,Bad Timing
"""


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client, content, name="leads.csv") -> JobRun:
    response = client.post(
        reverse("imports:import_start"), {"kind": "contacts", "file": SimpleUploadedFile(name, content)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return JobRun.objects.latest("pk")


def form_post(response, **extra):
    form = response.context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data["mode"] = "all_or_nothing"
    data.update(extra)
    return data


def test_the_preview_says_what_happens_to_the_lead_status_column(user_in):
    revops = user_in(TeamKind.REVENUE_OPERATIONS, Role.MEMBER)
    ContactFactory(email="stored@acme.com")
    client = client_for(revops)
    job = upload(client, LEADS)
    response = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk}))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"]["col_3"].initial == "lifecycle_stage"
    assert 'id="import-lifecycle"' in html and "Lead Status" in html
    assert "Not written to contacts directly" in html and "records Lead and MQL only" not in html
    values = response.context["report"]["lifecycle"]["values"]
    assert [(v["value"], v["stage"], v["count"]) for v in values] == [
        ("Working - Contacted", "sal", 2),
        ("Bad Timing", "recycled", 1),
        ("Marketing Qualified Lead", "mql", 1),
    ]
    assert 'data-count="stage-new">3<' in html and 'data-count="stage-stored">1<' in html
    assert not LifecycleTransition.objects.exists() and Contact.objects.count() == 1


def test_a_marketer_is_told_before_importing_which_stages_are_only_reported(member):
    client = client_for(member)
    job = upload(client, LEADS)
    html = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk})).content.decode()
    assert "records Lead and MQL only" in html
    assert (
        'data-count="stage-not-recorded">3<' in html
    )  # SAL twice (one stored contact is new here), Recycled


def test_confirming_records_the_stages_through_the_lifecycle_service(
    user_in, django_capture_on_commit_callbacks
):
    revops = user_in(TeamKind.REVENUE_OPERATIONS, Role.MEMBER)
    PersonaFactory(
        name="Rita, the RevOps Champion",
        priority=10,
        match_titles=["revops", "revenue operations"],
        match_seniorities=["director", "manager"],
        match_departments=["operations"],
    )
    ContactFactory(email="stored@acme.com", lifecycle_stage="mql")
    client = client_for(revops)
    job = upload(client, LEADS)
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form_post(client.get(url), confirm="1"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.message
    # The import's moves; the rescore after the import may move the contacts on by the rules.
    moves = LifecycleTransition.objects.filter(decision=LifecycleDecision.IMPORT)
    assert {(t.contact.email, t.from_stage, t.to_stage, t.actor) for t in moves} == {
        ("rita@acme.com", "lead", "sal", revops),
        ("sam@acme.com", "lead", "mql", revops),
        ("nina@acme.com", "lead", "recycled", revops),
    }
    rita = Contact.objects.get(email="rita@acme.com")
    assert (rita.seniority, rita.persona.name) == ("director", "Rita, the RevOps Champion")
    html = client.get(reverse("imports:import_result", kwargs={"pk": job.pk})).content.decode()
    assert 'id="import-lifecycle"' in html and "(recorded: 3)" in html
    assert "no persona given: mapped by the title to the persona" in html


def test_the_preview_warns_about_rows_longer_than_the_header(member):
    client = client_for(member)
    content = b"email,title\na@x.com,CFO,\nb@x.com,Head of Sales, EMEA\nc@x.com,CTO\n"
    job = upload(client, content)
    response = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk}))
    html = response.content.decode()
    assert 'id="import-long-rows"' in html
    assert "row 2 (+1 empty cell), row 3 (+1 cell)" in html
    assert "Extra cells holding a value reject their row" in html
    assert html.count("data-extra-cell") == 2 and "data-extra-column" in html
    assert response.context["report"]["error_count"] == 1
