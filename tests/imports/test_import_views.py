"""The import pages: permissions, upload, preview, mapping, confirm, progress, result; the task."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from imports import services
from imports.tasks import import_csv_task
from revops.choices import ChangeAction, JobStatus, Role, TeamKind
from revops.models import ChangeRecord, JobRun

pytestmark = pytest.mark.django_db

ACCOUNTS = b"""\
account,website,sector,revenue,employees,office_location,tier
Acme Corporation,acme.com,technolgy,1100.04,2822,United States,gold
Bluth Company,bluth.com,retail,1242.32,3027,Philipines,
Initech,initech.com,software,6395.05,20275,Korea,silver
"""
BAD = ACCOUNTS + b"Broken,broken.com,retail,12,-4,Atlantis,\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def client_as():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def upload(client, content=ACCOUNTS, kind="accounts", name="accounts.csv"):
    return client.post(
        reverse("imports:import_start"), {"kind": kind, "file": SimpleUploadedFile(name, content)}
    )


def mapping_post(job, response, **extra):
    """The preview form's fields as the browser would send them back."""
    form = response.context["form"]
    data = {f"col_{i}": form[f"col_{i}"].initial for i in range(len(form.headers))}
    data["mode"] = "all_or_nothing"
    data.update(extra)
    return data


# --- permissions --------------------------------------------------------------------------------
def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("imports:import_start"))
    assert response.status_code == 302 and response.url.startswith("/login/")


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_viewers_and_outsiders_are_denied(request, client_as, who):
    client = client_as(request.getfixturevalue(who))
    assert client.get(reverse("imports:import_start")).status_code == 403
    assert upload(client).status_code == 403
    assert JobRun.objects.count() == 0
    job = JobRun.objects.create(kind="import:accounts", params={"kind": "accounts"})
    for name in ("import_preview", "import_progress", "import_status", "import_result", "import_errors"):
        assert client.get(reverse(f"imports:{name}", kwargs={"pk": job.pk})).status_code == 403


def test_members_see_only_their_own_imports_and_revops_admins_all(client_as, member, user_in, revops_admin):
    other = user_in(TeamKind.SALES, Role.MEMBER)
    upload(client_as(member))
    job = JobRun.objects.get()
    preview = reverse("imports:import_preview", kwargs={"pk": job.pk})
    assert client_as(other).get(preview).status_code == 404
    assert client_as(revops_admin).get(preview).status_code == 200
    assert "accounts.csv" not in client_as(other).get(reverse("imports:import_start")).content.decode()


# --- the flow -----------------------------------------------------------------------------------
def test_upload_keeps_the_file_and_opens_the_preview(client_as, member, media):
    client = client_as(member)
    assert "Upload and preview" in client.get(reverse("imports:import_start")).content.decode()
    response = upload(client)
    job = JobRun.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "imports:import_preview", kwargs={"pk": job.pk}
    )
    assert job.kind == "import:accounts" and job.status == JobStatus.PENDING and job.created_by == member
    stored = media / "imports" / str(job.pk) / "accounts.csv"
    assert job.params["file"] == f"imports/{job.pk}/accounts.csv"
    assert Path(job.params["path"]) == stored and stored.read_bytes() == ACCOUNTS
    assert Account.objects.count() == 0


def test_preview_shows_rows_mapping_and_a_check_of_the_whole_file(client_as, member):
    client = client_as(member)
    upload(client, BAD)
    job = JobRun.objects.get()
    response = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk}))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="preview-table"' in html and "Bluth Company" in html
    form = response.context["form"]
    assert [form[f"col_{i}"].initial for i in range(7)] == [
        "name", "domain", "industry", "annual_revenue", "employee_count", "country", "custom",
    ]  # fmt: skip
    report = response.context["report"]
    assert report["dry_run"] and report["error_count"] == 2 and report["rejected"] == 1
    assert "must not be negative" in html and "&#x27;Atlantis&#x27; is not a country" in html
    assert "read as &#x27;technology&#x27;" in html  # corrections are listed
    assert "Every value in &#x27;revenue&#x27; is below 100,000" in html
    assert Account.objects.count() == 0


def test_mapping_is_editable_and_kept_until_confirmed(client_as, member):
    client = client_as(member)
    upload(client)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    data = mapping_post(job, client.get(url), col_3="annual_revenue_millions", col_6="ignore", apply="1")
    response = client.post(url, data)
    assert response.status_code == 302 and response.url == url
    job.refresh_from_db()
    assert job.params["mapping"] == {"revenue": "annual_revenue_millions", "tier": "ignore"}
    assert not job.params["confirmed"]
    again = client.get(url)
    assert again.context["form"]["col_3"].initial == "annual_revenue_millions"
    assert again.context["report"]["error_count"] == 0


def test_confirm_runs_the_import_and_shows_the_result(client_as, member, django_capture_on_commit_callbacks):
    client = client_as(member)
    upload(client)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    data = mapping_post(job, client.get(url), col_3="annual_revenue_millions", confirm="1")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302 and response.url == reverse(
        "imports:import_progress", kwargs={"pk": job.pk}
    )

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.params["confirmed"]
    assert job.result["created"] == 3 and job.progress == job.total == 3
    assert Account.objects.get(domain="acme.com").custom == {"tier": "gold"}
    assert ChangeRecord.objects.filter(action=ChangeAction.IMPORT).count() == 1

    progress = client.get(response.url)
    assert progress.status_code == 302 and progress.url == reverse(
        "imports:import_result", kwargs={"pk": job.pk}
    )
    assert client.get(url).status_code == 302  # a confirmed job has no preview any more
    result = client.get(progress.url)
    html = result.content.decode()
    assert result.status_code == 200
    assert 'data-count="created">3<' in html and "Succeeded" in html
    assert "&#x27;Philipines&#x27; read as Philippines (PH)" in html

    status = client.get(reverse("imports:import_status", kwargs={"pk": job.pk})).json()
    assert status["finished"] and status["percent"] == 100 and status["result_url"].endswith("/result/")
    fragment = client.get(reverse("imports:import_status", kwargs={"pk": job.pk}), HTTP_HX_REQUEST="true")
    assert (
        fragment["HX-Redirect"].endswith("/result/") and 'id="import-progress"' in fragment.content.decode()
    )

    original = client.get(reverse("imports:import_file", kwargs={"pk": job.pk}))
    assert b"".join(original.streaming_content) == ACCOUNTS


def test_bad_rows_fail_the_job_with_a_downloadable_report(
    client_as, member, django_capture_on_commit_callbacks
):
    client = client_as(member)
    upload(client, BAD)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, mapping_post(job, client.get(url), confirm="1"))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Nothing imported" in job.message
    assert Account.objects.count() == 0
    html = client.get(reverse("imports:import_result", kwargs={"pk": job.pk})).content.decode()
    assert "must not be negative" in html and "Download the rejected rows" in html
    response = client.get(reverse("imports:import_errors", kwargs={"pk": job.pk}))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["row", "column", "value", "reason"]
    assert rows[1][:4] == ["5", "employees", "-4", "must not be negative"] and "Broken" in rows[1]


def test_row_by_row_from_the_preview(client_as, member, django_capture_on_commit_callbacks):
    client = client_as(member)
    upload(client, BAD)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    data = mapping_post(job, client.get(url), confirm="1")
    data["mode"] = "row_by_row"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, data)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["created"] == 3 and job.result["rejected"] == 1


def test_conflicting_mapping_is_not_confirmed(client_as, member):
    client = client_as(member)
    upload(client)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    response = client.post(url, mapping_post(job, client.get(url), col_1="name", confirm="1"))
    assert response.status_code == 400
    assert (
        "Columns &#x27;account&#x27; and &#x27;website&#x27; are both read as Name"
        in response.content.decode()
    )
    job.refresh_from_db()
    assert not job.params["confirmed"] and job.status == JobStatus.PENDING


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "The submitted file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "book.xlsx", "Excel workbook"),
        (b"\x00\x01\x02\xff\xfe\x00binary", "data.bin", "binary file"),
    ],
)
def test_bad_uploads_are_refused_on_the_form(client_as, member, content, name, message):
    response = upload(client_as(member), content, name=name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert JobRun.objects.count() == 0


def test_missing_required_column_shows_on_the_preview(client_as, member):
    client = client_as(member)
    upload(client, b"sector,employees\nretail,10\n")
    job = JobRun.objects.get()
    html = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk})).content.decode()
    assert "required column missing" in html


# --- the task, progress and dispatch ------------------------------------------------------------
def _confirmed_job(client, content=ACCOUNTS):
    upload(client, content)
    job = JobRun.objects.get()
    services.import_mapping_set(job=job, mapping={}, row_by_row=False)
    JobRun.objects.filter(pk=job.pk).update(params={**job.params, "confirmed": True})
    return JobRun.objects.get(pk=job.pk)


def test_task_is_quiet_for_missing_or_finished_jobs_and_runs_once(client_as, member):
    assert import_csv_task(987654) is None
    job = _confirmed_job(client_as(member))
    import_csv_task(job.pk)
    import_csv_task(job.pk)  # a second delivery finds it finished and does nothing
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and Account.objects.count() == 3
    assert ChangeRecord.objects.filter(action=ChangeAction.IMPORT).count() == 1


def test_unconfirmed_jobs_are_not_run(client_as, member):
    upload(client_as(member))
    job = JobRun.objects.get()
    import_csv_task(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and Account.objects.count() == 0


def test_live_progress_comes_from_the_cache_while_running(client_as, member):
    job = _confirmed_job(client_as(member))
    JobRun.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    services.progress_set(job.pk, progress=30, total=120, phase="importing")
    status = client_as(member).get(reverse("imports:import_status", kwargs={"pk": job.pk})).json()
    assert (status["percent"], status["phase_label"], status["finished"]) == (25, "Writing", False)
    page = client_as(member).get(reverse("imports:import_progress", kwargs={"pk": job.pk}))
    html = page.content.decode()
    assert page.status_code == 200 and "25%" in html and 'hx-trigger="every 1s"' in html
    assert 'http-equiv="refresh"' in html  # without JavaScript, the page refreshes itself


def test_eager_mode_runs_in_a_thread_and_a_broker_gets_a_task(
    settings, client_as, member, monkeypatch, django_capture_on_commit_callbacks
):
    from config.celery import app
    from revops import background

    started = []

    class FakeThread:
        def __init__(self, target, args, name, daemon):
            started.append((target, args, name, daemon))

        def start(self):
            pass

    monkeypatch.setattr(background.threading, "Thread", FakeThread)
    settings.JOBS_RUN_INLINE = False
    job = _confirmed_job(client_as(member))
    with django_capture_on_commit_callbacks(execute=True):
        services.import_job_enqueue(job=job)
    assert started == [
        (background._run, (import_csv_task.delay, (job.pk,), f"import-{job.pk}"), f"import-{job.pk}", True)
    ]

    sent = []
    monkeypatch.setattr(import_csv_task, "delay", lambda job_id: sent.append(job_id))
    app.conf.task_always_eager = False  # conftest restores it
    with django_capture_on_commit_callbacks(execute=True):
        services.import_job_enqueue(job=job)
    assert sent == [job.pk] and len(started) == 1
