"""The CSV import in a real browser: upload, preview and remap, confirm, result; progress polling."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.choices import CampaignGoal
from accounts.models import Account, Campaign, CampaignCost, Contact
from imports.services import csv_import, progress_set
from revops.choices import JobStatus, Role, TeamKind
from revops.models import JobRun
from scoring.choices import LifecycleDecision
from scoring.models import LifecycleTransition
from tests.accounts.factories import ChannelFactory, PersonaFactory

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


LEADS = """\
Email,First Name,Title,Lead Status
ada@newco.io,Ada,Head of RevOps,Working - Contacted
sam@newco.io,Sam,"VP, Sales",Marketing Qualified Lead
hot@newco.io,Hal,CRO,Hot lead
long@newco.io,Lon,Marketing Manager,Nurturing,extra cell
"""


def test_contacts_export_with_lead_status_and_a_long_row(page, login, user_in, import_settings, tmp_path):
    revops = user_in(TeamKind.REVENUE_OPERATIONS, Role.MEMBER)
    PersonaFactory(
        name="Rita, the RevOps Champion",
        priority=10,
        match_titles=["revops"],
        match_seniorities=["director", "manager"],
        match_departments=["operations"],
    )
    path = tmp_path / "leads.csv"
    path.write_text(LEADS, encoding="utf-8")
    login(revops)

    page.goto("/import/")
    page.select_option("#id_kind", "contacts")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/import/\d+/$"))

    # The long row: said above the report, its extra cell marked in the table.
    expect(page.locator("#import-long-rows")).to_contain_text("row 5 (+1 cell)")
    expect(page.locator("#import-long-rows")).to_contain_text("Extra cells holding a value reject their row")
    expect(page.locator("#preview-table [data-extra-cell]")).to_have_text("extra cell")
    # The stage column: mapped, never written directly, each value with what it becomes.
    expect(page.get_by_label("Field for column Lead Status")).to_have_value("lifecycle_stage")
    expect(page.locator("#import-lifecycle-policy")).to_contain_text("Not written to contacts directly")
    expect(page.locator("#import-lifecycle-values")).to_contain_text("Working - Contacted")
    expect(page.locator("#import-lifecycle-values")).to_contain_text("SAL")
    # The unknown status is listed with its count, and mapped here.
    values = page.locator("#import-values [data-field=lifecycle_stage]")
    expect(values).to_contain_text("Hot lead")
    page.get_by_label("Read lifecycle_stage 'Hot lead' as").select_option("mql")
    page.get_by_label("Row by row: import the valid rows, report the others").check()
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/import/\d+/result/$"))

    expect(page.locator("#import-counts [data-count=created]")).to_have_text("3")
    expect(page.locator("#import-counts [data-count=rejected]")).to_have_text("1")
    expect(page.locator("#import-long-rows")).to_contain_text("row 5 (+1 cell)")
    expect(page.locator("#import-lifecycle-counts")).to_contain_text("(recorded: 3)")
    expect(page.locator("#import-warnings")).to_contain_text("mapped by the title to the persona 'Rita")
    imported = LifecycleTransition.objects.filter(decision=LifecycleDecision.IMPORT)
    assert {(t.contact.email, t.to_stage, t.actor) for t in imported} == {
        ("ada@newco.io", "sal", revops),
        ("sam@newco.io", "mql", revops),
        ("hot@newco.io", "mql", revops),
    }
    ada = Contact.objects.get(email="ada@newco.io")
    assert (ada.seniority, ada.persona.name) == ("director", "Rita, the RevOps Champion")
    assert not Contact.objects.filter(email="long@newco.io").exists()


CAMPAIGNS = """\
name,channel,goal,start,end,budget,utm campaign,cost 2026-01,2026-02 cost
Spring webinar,webinar,Partners,2026-01-05,2026-03-31,40000,spring-webinar,12000,800
Rip and replace,webinar,World peace,2026-02-01,2026-04-30,25000,rip-replace,,5000
"""


def test_member_imports_campaigns_with_costs_by_month_from_the_page(
    page, login, member, import_settings, tmp_path
):
    ChannelFactory(slug="webinar", name="Webinars")
    path = tmp_path / "campaigns.csv"
    path.write_text(CAMPAIGNS, encoding="utf-8")
    login(member)

    page.goto("/import/")
    page.select_option("#id_kind", "campaigns")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/import/\d+/$"))

    expect(page.get_by_label("Field for column cost 2026-01")).to_have_value("cost_month")
    expect(page.get_by_label("Field for column 2026-02 cost")).to_have_value("cost_month")
    expect(page.locator("#import-values [data-field=goal]")).to_contain_text("World peace")
    page.get_by_label("Read goal 'World peace' as").select_option("awareness")
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/import/\d+/result/$"))

    expect(page.locator("#import-status")).to_have_text("Succeeded")
    expect(page.locator("#import-counts [data-count=created]")).to_have_text("2")
    spring = Campaign.objects.get(name="Spring webinar")
    assert str(spring.cost) == "12800.00" and spring.goal == CampaignGoal.PARTNER
    assert sorted(
        (c.month.isoformat(), str(c.amount)) for c in CampaignCost.objects.filter(campaign=spring)
    ) == [
        ("2026-01-01", "12000.00"),
        ("2026-02-01", "800.00"),
    ]
    assert Campaign.objects.get(name="Rip and replace").goal == CampaignGoal.AWARENESS
