"""The CSV import in a real browser: upload, preview and remap, confirm, result; progress polling."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Account
from imports.services import csv_import, progress_set
from revops.choices import JobStatus
from revops.models import JobRun

ACCOUNTS = """\
account,website,sector,revenue,employees,office_location
Acme Corporation,acme.com,technolgy,1100.04,2822,United States
Bluth Company,bluth.com,retail,1242.32,3027,Philipines
Initech,initech.com,software,6395.05,20275,Korea
"""


@pytest.fixture
def import_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # The live server's SQLite test database is in memory: run the import in the request, not a thread.
    settings.JOBS_RUN_INLINE = True
    return settings


def test_member_uploads_previews_remaps_and_imports_accounts(page, login, member, import_settings, tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS, encoding="utf-8")
    login(member)

    page.goto("/import/")
    page.select_option("#id_kind", "accounts")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/import/\d+/$"))

    expect(page.locator("#preview-table")).to_contain_text("Bluth Company")
    revenue = page.get_by_label("Field for column revenue")
    expect(revenue).to_have_value("annual_revenue")
    expect(page.locator("#import-notes")).to_contain_text("annual_revenue_millions")
    expect(page.locator("#import-warnings")).to_contain_text("'technolgy' read as 'technology'")
    expect(page.locator("#import-counts [data-count=created]")).to_have_text("3")

    revenue.select_option("annual_revenue_millions")
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/import/\d+/result/$"))

    expect(page.locator("#import-status")).to_have_text("Succeeded")
    expect(page.locator("#import-counts [data-count=created]")).to_have_text("3")
    expect(page.locator("#import-summary")).to_contain_text("created 3")
    expect(page.locator("#import-warnings")).to_contain_text("'Philipines' read as Philippines (PH)")
    assert Account.objects.count() == 3
    assert str(Account.objects.get(domain="acme.com").annual_revenue) == "1100040000.00"


def test_progress_page_polls_and_moves_to_the_result(page, login, member, import_settings, tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS, encoding="utf-8")
    job = JobRun.objects.create(
        kind="import:accounts",
        status=JobStatus.RUNNING,
        created_by=member,
        params={"kind": "accounts", "filename": "accounts.csv", "path": str(path), "confirmed": True},
    )
    progress_set(job.pk, progress=60, total=120, phase="importing")
    login(member)

    page.goto(f"/import/{job.pk}/progress/")
    expect(page.locator("#import-progress")).to_contain_text("50%")
    expect(page.locator("#import-phase")).to_contain_text("Writing")

    report = csv_import(kind="accounts", path=path, dry_run=True)
    progress_set(job.pk, progress=90, total=120, phase="importing")
    expect(page.locator("#import-progress")).to_contain_text("75%")  # polled, not reloaded by hand
    JobRun.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), result=report.as_dict(), progress=3, total=3
    )
    page.wait_for_url(re.compile(rf"/import/{job.pk}/result/$"))
    expect(page.locator("#import-status")).to_have_text("Succeeded")
