"""``manage.py import_csv``: the report, exit codes, dry run, explicit mapping, row by row."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from revops.choices import ChangeAction, JobStatus
from revops.models import ChangeRecord, JobRun
from tests.revops.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD = """\
account,sector,revenue,employees,office_location,subsidiary_of
Acme Corporation,technolgy,1100.04,2822,United States,
Bluth Company,technolgy,1242.32,3027,Philipines,Acme Corporation
"""
BAD = GOOD + "Broken Ltd,retail,12,-4,Atlantis,\n"


@pytest.fixture
def csv_file(tmp_path):
    def make(content: str, name: str = "accounts.csv"):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    return make


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_csv", *args, stdout=out, stderr=io.StringIO(), verbosity=1)
    return out.getvalue()


def test_import_prints_the_report_and_records_a_job(csv_file):
    UserFactory(username="ops")
    path = csv_file(GOOD)
    output = run("accounts", path, "--map", "revenue=annual_revenue_millions", "--user", "ops")

    assert "Rows: 2 · created 2 · updated 0 · unchanged 0 · rejected 0 · parents linked 1" in output
    assert "revenue → annual_revenue_millions" in output
    assert "'technolgy' read as 'technology' (spelling) — 2 row(s): 2, 3" in output
    assert "'Philipines' read as Philippines (PH)" in output
    acme = Account.objects.get(name="Acme Corporation")
    assert str(acme.annual_revenue) == "1100040000.00"
    assert Account.objects.get(name="Bluth Company").parent == acme

    job = JobRun.objects.get()
    assert job.kind == "import:accounts" and job.status == JobStatus.SUCCEEDED
    assert job.params["path"] == path and job.params["mapping"] == {"revenue": "annual_revenue_millions"}
    assert job.result["created"] == 2 and job.created_by.username == "ops"
    record = ChangeRecord.objects.get(action=ChangeAction.IMPORT)
    assert record.actor.username == "ops" and record.after["job"] == job.pk

    again = run("accounts", path, "--map", "revenue=annual_revenue_millions")
    assert "created 0 · updated 0 · unchanged 2" in again
    assert Account.objects.count() == 2


def test_errors_exit_non_zero_and_write_nothing(csv_file, tmp_path):
    errors_csv = tmp_path / "rejected.csv"
    with pytest.raises(CommandError, match="Nothing imported: 2 error") as excinfo:
        run("accounts", csv_file(BAD), "--errors-csv", str(errors_csv))
    assert excinfo.value.returncode == 1
    assert Account.objects.count() == 0
    assert JobRun.objects.get().status == JobStatus.FAILED
    rejected = errors_csv.read_text().splitlines()
    assert rejected[0].startswith("row,column,value,reason,account")
    assert rejected[1].startswith("4,employees,-4,must not be negative,Broken Ltd")
    assert rejected[2].startswith("4,office_location,Atlantis,'Atlantis' is not a country")


def test_row_by_row_imports_good_rows_and_exits_zero(csv_file):
    output = run("accounts", csv_file(BAD), "--row-by-row")
    assert "created 2" in output and "rejected 1" in output
    assert "row 4, employees '-4': must not be negative" in output
    assert set(Account.objects.values_list("name", flat=True)) == {"Acme Corporation", "Bluth Company"}


def test_dry_run_writes_nothing(csv_file):
    output = run("accounts", csv_file(GOOD), "--dry-run")
    assert "would create 2" in output and "dry run" in output
    assert Account.objects.count() == 0 and JobRun.objects.count() == 0 and ChangeRecord.objects.count() == 0
    with pytest.raises(CommandError):
        run("accounts", csv_file(BAD), "--dry-run")


def test_bad_arguments_are_command_errors(csv_file, tmp_path):
    with pytest.raises(CommandError, match="HEADER=FIELD"):
        run("accounts", csv_file(GOOD), "--map", "revenue")
    with pytest.raises(CommandError, match="No such file"):
        run("accounts", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="invalid choice"):
        run("planets", csv_file(GOOD))
    with pytest.raises(CommandError, match="'turnover' is not a field of accounts") as excinfo:
        run("accounts", csv_file(GOOD), "--map", "revenue=turnover")
    assert excinfo.value.returncode == 2
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CommandError, match="PNG image"):
        run("accounts", str(binary))
