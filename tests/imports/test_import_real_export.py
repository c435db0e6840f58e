"""Imports that take a real CRM export: technology lists, values outside a choice field's list,
contacts of companies nobody imported, unicode e-mails — parsed, imported, from the command line
and from the upload and preview page."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, Contact, Opportunity, Technology
from imports.mappings import KINDS, Corrected, UnknownChoice, value_map_check, value_map_parse
from imports.services import csv_import
from revops.choices import ChangeAction, JobStatus
from revops.models import ChangeRecord, JobRun
from tests.accounts.factories import AccountFactory, ContactFactory, TechnologyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def write(tmp_path):
    """``write(text)`` → the path of a new CSV file holding it."""
    counter = iter(range(1000))

    def make(content: str):
        path = tmp_path / f"export{next(counter)}.csv"
        path.write_text(content, encoding="utf-8")
        return path

    return make


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def command(*args) -> tuple[str, CommandError | None]:
    """Run ``import_csv``: its output, and the CommandError it ended with (or None)."""
    out = io.StringIO()
    try:
        call_command("import_csv", *args, stdout=out, stderr=io.StringIO(), verbosity=1)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def technologies(domain: str) -> list[str]:
    return sorted(Account.objects.get(domain=domain).technologies.values_list("name", flat=True))


def warnings(report) -> dict[tuple[str, str], list[int]]:
    return {(w["column"], w["message"]): w["rows"] for w in report.as_dict()["warnings"]}


# --- 1. technologies as a list in the accounts file ------------------------------------------------
def test_a_technologies_cell_splits_on_semicolons_pipes_commas_and_line_breaks_only():
    parse = KINDS["accounts"].field("technologies").parse
    assert parse("Snowflake;Tableau") == ("Snowflake", "Tableau")
    assert parse(" Snowflake | Tableau ") == ("Snowflake", "Tableau")
    assert parse("Snowflake, Tableau,\nLooker") == ("Snowflake", "Tableau", "Looker")
    assert parse("CI/CD; PL/SQL") == ("CI/CD", "PL/SQL")  # '/' is part of names
    assert parse("Power BI; PowerBI;power-bi") == ("Power BI",)  # the same name thrice
    assert parse(" ; ,|") is None  # nothing listed: blank
    with pytest.raises(ValueError, match="a name fits 100"):
        parse("Snowflake;" + "x" * 101)


ACCOUNTS = """\
account,domain,technologies
Acme,acme.com,"Snowflake, Tableau"
Globex,globex.com,snowflake;PowerBI|Looker
Initech,initech.com,
"""


def test_technologies_match_the_catalogue_loosely_and_unknown_names_are_added(write):
    TechnologyFactory(name="Snowflake")
    TechnologyFactory(name="Power BI")
    report = csv_import(kind="accounts", path=write(ACCOUNTS))

    assert report.ok and report.created == 3, report.errors
    assert report.extra["technologies_created"] == 2
    assert technologies("acme.com") == ["Snowflake", "Tableau"]
    assert technologies("globex.com") == ["Looker", "Power BI", "Snowflake"]
    assert technologies("initech.com") == []
    assert sorted(Technology.objects.values_list("name", flat=True)) == [
        "Looker", "Power BI", "Snowflake", "Tableau",
    ]  # fmt: skip
    assert warnings(report) == {
        ("technologies", "'Tableau' is not in the technology catalogue: added to it"): [2],
        ("technologies", "'PowerBI' matched technology 'Power BI'"): [3],
        ("technologies", "'Looker' is not in the technology catalogue: added to it"): [3],
    }  # 'snowflake' differs only in case: no note
    [record] = ChangeRecord.objects.filter(action=ChangeAction.IMPORT)
    assert record.after["technologies_created"] == 2

    again = csv_import(kind="accounts", path=write(ACCOUNTS))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert "technologies_created" not in again.extra

    # A listed cell replaces the account's technologies; a blank cell keeps them.
    changed = ACCOUNTS.replace('"Snowflake, Tableau"', "Snowflake").replace("snowflake;PowerBI|Looker", "")
    report = csv_import(kind="accounts", path=write(changed))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert technologies("acme.com") == ["Snowflake"]
    assert technologies("globex.com") == ["Looker", "Power BI", "Snowflake"]
    assert Technology.objects.count() == 4  # the catalogue keeps what it has


def test_a_near_miss_is_added_with_the_catalogue_name_it_may_mean(write):
    TechnologyFactory(name="Salesforce Sales Cloud")
    report = csv_import(kind="accounts", path=write("account,tech_stack\nAcme,Salesforce Sales Clod\n"))
    assert report.ok
    [(_, message)] = warnings(report)
    assert message == (
        "'Salesforce Sales Clod' is not in the technology catalogue: added to it "
        "(did you mean 'Salesforce Sales Cloud'?)"
    )


def test_no_technology_is_added_by_a_dry_run_or_a_rejected_row(write):
    dry = csv_import(kind="accounts", path=write(ACCOUNTS), dry_run=True)
    assert dry.extra["technologies_created"] == 4 and dry.created == 3
    assert not Technology.objects.exists() and not Account.objects.exists()

    bad = "account,domain,employees,technologies\nGood,good.com,5,Tableau\nBad,bad.com,-1,Looker\n"
    assert not csv_import(kind="accounts", path=write(bad)).written
    assert not Technology.objects.exists()

    rows = csv_import(kind="accounts", path=write(bad), row_by_row=True)
    assert rows.extra["technologies_created"] == 1
    assert list(Technology.objects.values_list("name", flat=True)) == ["Tableau"]


def test_existing_accounts_whose_list_changes_count_as_updated_in_a_dry_run(write):
    csv_import(kind="accounts", path=write(ACCOUNTS))
    changed = ACCOUNTS.replace('"Snowflake, Tableau"', "Snowflake;Tableau;dbt")
    dry = csv_import(kind="accounts", path=write(changed), dry_run=True)
    assert (dry.updated, dry.unchanged, dry.extra["technologies_created"]) == (1, 2, 1)
    assert technologies("acme.com") == ["Snowflake", "Tableau"]


def _import_queries(path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        report = csv_import(kind="accounts", path=path)
    assert report.ok, report.errors[:3]
    return len(ctx.captured_queries)


def test_technology_links_are_written_set_based(write):
    def accounts(prefix: str, n: int, extra: str = "") -> str:
        rows = "".join(
            f"{prefix}{i},{prefix}{i}.com,Snowflake;Tableau;Tool {i % 7}{extra}\n" for i in range(n)
        )
        return "account,domain,technologies\n" + rows

    small = _import_queries(write(accounts("s", 20)))
    large = _import_queries(write(accounts("l", 1500)))
    assert Account.technologies.through.objects.filter(account__domain__startswith="l").count() == 4500
    assert large <= small + 1500 // 50  # batches, not a query per row or per link
    relisted = _import_queries(write(accounts("l", 1500, ";dbt")))
    assert relisted <= small + 1500 // 25
    assert technologies("l7.com") == ["Snowflake", "Tableau", "Tool 0", "dbt"]


# --- 2. values outside a choice field's list -----------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "stage"),
    [
        ("Open", "prospecting"),
        ("Qualification", "prospecting"),
        ("Needs Analysis", "engaging"),
        ("Value Proposition", "engaging"),
        ("Id. Decision Makers", "engaging"),
        ("Perception Analysis", "engaging"),
        ("Proposal/Price Quote", "proposal"),
        ("Negotiation/Review", "negotiation"),
        ("Closed Won", "won"),
        ("closedwon", "won"),
        ("Closed Lost", "lost"),
        ("Appointment Scheduled", "engaging"),
        ("Contract Sent", "negotiation"),
    ],
)
def test_crm_stage_names_are_read_with_a_note(raw, stage):
    parse = KINDS["opportunities"].field("stage").parse
    label = dict(KINDS["opportunities"].field("stage").choices.labels)[stage]
    assert parse(raw) == Corrected(stage, f"'{raw}' read as {stage} ({label})")


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        ("seniority", "intern", "entry"),
        ("seniority", "Junior", "entry"),
        ("seniority", "Associate", "entry"),
        ("seniority", "Head of Marketing", "director"),
        ("seniority", "Chief Revenue Officer", "c_level"),
        ("seniority", "CxO", "c_level"),
        ("seniority", "CFO", "c_level"),
        ("seniority", "VP of Sales", "vp"),
        ("seniority", "Sr. Manager", "manager"),
        ("department", "Human Resources", "hr"),
        ("department", "R&D", "engineering"),
        ("department", "Business Development", "sales"),
    ],
)
def test_seniority_and_department_synonyms(field, raw, value):
    result = KINDS["contacts"].field(field).parse(raw)
    assert isinstance(result, Corrected) and result.value == value


def test_own_values_and_labels_are_read_silently_and_others_refused_with_a_suggestion():
    stage = KINDS["opportunities"].field("stage").parse
    assert [stage(v) for v in ("Won", "NEGOTIATION", " prospecting ")] == [
        "won",
        "negotiation",
        "prospecting",
    ]
    seniority = KINDS["contacts"].field("seniority").parse
    assert seniority("Entry level / student") == "entry"
    with pytest.raises(UnknownChoice) as exc:
        stage("Negotation")
    assert exc.value.value == "Negotation" and exc.value.parser.suggest("Negotation") == "negotiation"
    assert str(exc.value).startswith("'Negotation' is not an opportunity stage; accepted: prospecting")
    with pytest.raises(UnknownChoice) as exc:
        stage("Closing")
    assert exc.value.parser.suggest("Closing") == ""  # nothing close enough to guess
    with pytest.raises(UnknownChoice):
        seniority("営業部長")  # no ASCII letter: compared as written, not as an empty key


def test_value_mappings_are_parsed_and_checked():
    parsed = value_map_parse(
        ["seniority:Werkstudent=entry,Praktikant=Entry level / student", "level:Boss=C-level"]
    )
    assert value_map_check("contacts", parsed) == {
        "seniority": {"Werkstudent": "entry", "Praktikant": "entry", "Boss": "c_level"}
    }  # a field by its alias, a target by its label
    assert value_map_check("opportunities", value_map_parse(["deal_stage:On Hold=engaging"])) == {
        "stage": {"On Hold": "engaging"}
    }
    for bad in ("seniority", "seniority:intern", "seniority:=entry", ":intern=entry"):
        with pytest.raises(ValueError, match="FIELD:VALUE=ACCEPTED|is not VALUE=ACCEPTED"):
            value_map_parse([bad])
    with pytest.raises(ValueError) as exc:
        value_map_check("contacts", {"title": {"CEO": "c_level"}, "seniority": {"Boss": "king"}})
    assert (
        "'title' is not a choice field of contacts (these are: seniority, department, lifecycle_stage)"
        in str(exc.value)
    )
    assert "seniority: 'Boss' cannot become 'king', which is not a seniority (accepted: c_level, vp" in str(
        exc.value
    )


OPPORTUNITIES = """\
opportunity_id,deal_stage
O1,Closed Won
O2,Needs Analysis
O3,Open
O4,Won
O5,Pending
O6,pending
O7,Negotation
"""


def test_values_outside_the_list_are_listed_with_counts_then_mapped(write):
    report = csv_import(kind="opportunities", path=write(OPPORTUNITIES))
    assert not report.written and report.rejected == 3
    errors = {e["row"]: e["reason"] for e in report.errors}
    assert errors[6] == (
        "'Pending' is not an opportunity stage; accepted: prospecting, engaging, proposal, negotiation, won, "
        "lost — or map it with --map-values stage:Pending=<value>"
    )
    assert errors[8].startswith("'Negotation' is not an opportunity stage (did you mean negotiation?)")
    [column] = report.as_dict()["unknown_values"]
    assert (column["field"], column["column"], column["noun"]) == ("stage", "deal_stage", "opportunity stage")
    assert column["values"] == [
        {"value": "Pending", "count": 2, "mapped": "", "suggestion": ""},
        {"value": "Negotation", "count": 1, "mapped": "", "suggestion": "negotiation"},
    ]
    assert column["accepted"][0] == {"value": "prospecting", "label": "Prospecting"}
    assert ("deal_stage", "'Closed Won' read as won (Won)") in warnings(report)

    value_map = {"stage": {"PENDING": "engaging", "Negotation": "Negotiation"}}
    report = csv_import(kind="opportunities", path=write(OPPORTUNITIES), value_map=value_map)
    assert report.ok and report.created == 7, report.errors
    assert dict(Opportunity.objects.values_list("external_id", "stage")) == {
        "O1": "won", "O2": "engaging", "O3": "prospecting", "O4": "won",
        "O5": "engaging", "O6": "engaging", "O7": "negotiation",
    }  # fmt: skip
    assert warnings(report)[("deal_stage", "'Pending' mapped to engaging (value mapping)")] == [6]
    assert warnings(report)[("deal_stage", "'pending' mapped to engaging (value mapping)")] == [7]
    assert report.as_dict()["unknown_values"][0]["values"][0]["mapped"] == "engaging"
    assert report.value_map == {"stage": {"PENDING": "engaging", "Negotation": "negotiation"}}


def test_lifecycle_stage_reads_crm_statuses_and_takes_a_value_mapping(write):
    path = write(
        "email,lifecycle_stage\na@x.com,Lead\nb@x.com,Nurture\nc@x.com,Marketing Qualified Lead\n"
        "d@x.com,Hot lead\ne@x.com,Pending review\n"
    )
    report = csv_import(kind="contacts", path=path)
    assert {e["row"] for e in report.errors} == {5, 6}
    report = csv_import(
        kind="contacts",
        path=path,
        value_map={"lifecycle_stage": {"hot lead": "mql", "Pending review": "lead"}},
    )
    assert report.ok
    # Recorded through the lifecycle service by the command line (no user): every stage.
    assert dict(Contact.objects.values_list("email", "lifecycle_stage")) == {
        "a@x.com": "lead", "b@x.com": "recycled", "c@x.com": "mql", "d@x.com": "mql", "e@x.com": "lead",
    }  # fmt: skip


def test_a_wrong_value_mapping_stops_the_import_before_any_row(write):
    report = csv_import(kind="contacts", path=write("email\na@x.com\n"), value_map={"email": {"a": "b"}})
    assert not report.ok and "the value mapping is wrong" in report.fatal
    assert not Contact.objects.exists()


# --- 3. contacts of companies nobody imported ------------------------------------------------------
CONTACTS = """\
email,company,seniority
ada@newco.io,NewCo,vp
bob@newco.io,Newco,
carla@acme.com,Acme Inc,
dan@gmail.com,Solo Consulting,
eve@gmail.com,NewCo,
fay@other.org,other.org,
gus@acme.com,,
"""


def test_unknown_companies_are_created_at_the_email_domain(write):
    acme = AccountFactory(name="Acme Corporation", domain="acme.com")
    report = csv_import(kind="contacts", path=write(CONTACTS))

    assert report.ok and report.created == 7, report.errors
    assert report.extra["accounts_created"] == 2
    newco = Account.objects.get(domain="newco.io")
    assert newco.name == "NewCo"
    assert Account.objects.get(domain="other.org").name == "Other"
    account_of = dict(Contact.objects.values_list("email", "account__name"))
    assert account_of == {
        "ada@newco.io": "NewCo",
        "bob@newco.io": "NewCo",
        "carla@acme.com": "Acme Corporation",  # the account of the e-mail's domain
        "dan@gmail.com": None,  # free mail founds no account
        "eve@gmail.com": "NewCo",  # another row founded the company it names
        "fay@other.org": "Other",  # a domain in the cell names the account's domain
        "gus@acme.com": "Acme Corporation",
    }
    assert warnings(report) == {
        ("company", "unknown account 'NewCo': created, with the domain newco.io"): [2, 3, 6],
        (
            "company",
            "no account is named 'Acme Inc': the account of the e-mail's domain acme.com "
            "('Acme Corporation') was used",
        ): [4],
        (
            "company",
            "unknown account 'Solo Consulting' not created: gmail.com is a free-mail provider, not the "
            "company's domain; imported without an account",
        ): [5],
        ("company", "unknown account 'Other': created, with the domain other.org"): [7],
    }
    [record] = ChangeRecord.objects.filter(action=ChangeAction.IMPORT)
    assert record.after["accounts_created"] == 2

    again = csv_import(kind="contacts", path=write(CONTACTS))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 7)
    assert "accounts_created" not in again.extra and Account.objects.count() == 3
    assert acme.contacts.count() == 2


def test_dry_runs_and_rejected_rows_create_no_account(write):
    ContactFactory(email="ada@newco.io", account=None)
    path = write("email,company\nada@newco.io,NewCo\nzed@newco.io,NewCo\n")
    dry = csv_import(kind="contacts", path=path, dry_run=True)
    assert (dry.created, dry.updated, dry.extra["accounts_created"]) == (1, 1, 1)
    assert not Account.objects.exists()

    bad = write("email,company,seniority\nada@newco.io,NewCo,vp\nbo@badco.com,BadCo,boss\n")
    assert not csv_import(kind="contacts", path=bad).written
    assert not Account.objects.exists()

    rows = csv_import(kind="contacts", path=bad, row_by_row=True)
    assert (rows.updated, rows.rejected, rows.extra["accounts_created"]) == (1, 1, 1)
    assert list(Account.objects.values_list("name", flat=True)) == ["NewCo"]
    assert not any("BadCo" in message for _, message in warnings(rows))


def test_a_file_naming_many_new_companies_names_the_first_hundred(write):
    rows = "".join(f"p{i}@firm{i}.com,Firm {i}\n" for i in range(105))
    report = csv_import(kind="contacts", path=write("email,company\n" + rows), dry_run=True)
    assert report.extra["accounts_created"] == 105
    messages = {message: rows for (_, message), rows in warnings(report).items()}
    assert len(messages) == 101
    assert messages["unknown account 'Firm 0': created, with the domain firm0.com"] == [2]
    more = messages["more unknown accounts created, each with the domain of its first contact's e-mail"]
    assert more == [102, 103, 104, 105, 106]


# --- 4. unicode e-mail addresses -------------------------------------------------------------------
def test_unicode_addresses_are_imported_and_found_again(write):
    buecher = AccountFactory(name="Bücher", domain="xn--bcher-kva.de")
    path = write("email,company\nZoë.Müller@Beispiel.de,Beispiel GmbH\nMÜLLER@bücher.de,\n")
    report = csv_import(kind="contacts", path=path)
    assert report.ok and report.created == 2, report.errors
    assert Contact.objects.get(email="zoë.müller@beispiel.de").account.domain == "beispiel.de"
    assert Contact.objects.get(email="müller@xn--bcher-kva.de").account == buecher

    spelled_otherwise = write("email\nzoe\u0308.müller@beispiel.de\nmüller@xn--bcher-kva.de\n")
    again = csv_import(kind="contacts", path=spelled_otherwise)
    assert (again.created, again.unchanged) == (0, 2)


# --- the command -----------------------------------------------------------------------------------
SENIORITIES = """\
email,seniority
a@x.com,Werkstudent
b@x.com,Werkstudent
c@x.com,Boss
d@x.com,intern
"""


def test_command_lists_unknown_values_and_maps_them_with_map_values(write):
    path = str(write(SENIORITIES))
    output, error = command("contacts", path)
    assert error is not None and error.returncode == 1
    assert "row 4, seniority 'Boss': 'Boss' is not a seniority; accepted: c_level, vp, director" in output
    assert "Values outside the accepted lists:" in output
    assert "seniority (seniority): 'Werkstudent' (2 row(s), closest: entry), 'Boss' (1 row(s))" in output
    assert "map them with: --map-values 'seniority:Werkstudent=entry,Boss=<value>'" in output
    assert not Contact.objects.exists()

    output, error = command("contacts", path, "--map-values", "seniority:Werkstudent=entry,Boss=c_level")
    assert error is None, output
    assert "seniority: 'Werkstudent' mapped to entry (value mapping) — 2 row(s): 2, 3" in output
    assert "seniority: 'intern' read as entry (Entry level / student) — 1 row(s): 5" in output
    assert "Values outside" not in output
    assert dict(Contact.objects.values_list("email", "seniority")) == {
        "a@x.com": "entry", "b@x.com": "entry", "c@x.com": "c_level", "d@x.com": "entry",
    }  # fmt: skip
    job = JobRun.objects.get(status=JobStatus.SUCCEEDED)
    assert job.params["value_map"] == {"seniority": {"Werkstudent": "entry", "Boss": "c_level"}}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("title:CEO=c_level", "'title' is not a choice field of contacts"),
        ("seniority:Boss=king", "'Boss' cannot become 'king', which is not a seniority (accepted: c_level"),
        ("seniority", "write --map-values FIELD:VALUE=ACCEPTED"),
    ],
)
def test_command_refuses_a_wrong_value_mapping_and_writes_nothing(write, option, message):
    output, error = command("contacts", str(write(SENIORITIES)), "--map-values", option)
    assert error is not None and message in str(error)
    assert not JobRun.objects.exists() and not Contact.objects.exists()


def test_command_reports_technologies_and_accounts_it_created(write):
    output, error = command("accounts", str(write(ACCOUNTS)))
    assert error is None, output
    assert "technologies created 4" in output
    assert "technologies: 'Tableau' is not in the technology catalogue: added to it — 1 row(s): 2" in output

    output, error = command("contacts", str(write(CONTACTS)))
    assert error is None, output
    assert "accounts created 2" in output
    assert "company: unknown account 'NewCo': created, with the domain newco.io — 3 row(s): 2, 3, 6" in output


def test_command_help_documents_the_rules(capsys):
    with pytest.raises(SystemExit):
        call_command("import_csv", "--help")
    text = " ".join(capsys.readouterr().out.split())
    for rule in ("separated by ';', '|', ',' or a line break", "'/' separates nothing", "added to it",
                 "free-mail", "--map-values", "seniority:intern=entry"):  # fmt: skip
        assert rule in text


# --- the upload and preview page -------------------------------------------------------------------
def _upload(member, content: str, kind: str) -> tuple[Client, JobRun, str]:
    client = Client()
    client.force_login(member)
    client.post(
        reverse("imports:import_start"),
        {"kind": kind, "file": SimpleUploadedFile("export.csv", content.encode("utf-8"))},
    )
    job = JobRun.objects.get()
    return client, job, reverse("imports:import_preview", kwargs={"pk": job.pk})


def _as_sent(response, **changes) -> dict:
    """Every field of the preview form as the browser sends it back, with ``changes``."""
    form = response.context["form"]
    data = {name: form[name].initial for name in form.fields}
    data["mode"] = "all_or_nothing"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_preview_offers_a_mapping_per_unknown_value_and_the_import_uses_it(
    member, django_capture_on_commit_callbacks
):
    content = "email,seniority,department\n" + "".join(
        f"{line},Legal\n" for line in SENIORITIES.splitlines()[1:]
    )
    client, job, url = _upload(member, content, "contacts")

    response = client.get(url)
    html = response.content.decode()
    assert 'id="import-values"' in html and "Werkstudent" in html
    groups = response.context["value_groups"]
    assert [
        (g["field"], [(v["value"], v["count"], v["suggestion"]) for v in g["values"]]) for g in groups
    ] == [
        ("seniority", [("Werkstudent", 2, "entry"), ("Boss", 1, "")]),
        ("department", [("Legal", 4, "")]),
    ]
    form = response.context["form"]
    assert [form[f"vm_{n}"].initial for n in range(3)] == ["entry", "", ""]  # the suggestion preselected

    # Check again with Boss mapped: saved with the job, and the preview applies it.
    response = client.post(url, _as_sent(response, vm_1="c_level", apply="1"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.params["value_map"] == {"seniority": {"Werkstudent": "entry", "Boss": "c_level"}}
    response = client.get(url)
    report = response.context["report"]
    assert {e["column"] for e in report["errors"]} == {"department"}
    assert [response.context["form"][f"vm_{n}"].initial for n in range(3)] == ["entry", "c_level", ""]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _as_sent(response, vm_2="other", confirm="1"))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.params["value_map"]["department"] == {"Legal": "other"}
    assert dict(Contact.objects.values_list("email", "seniority")) == {
        "a@x.com": "entry", "b@x.com": "entry", "c@x.com": "c_level", "d@x.com": "entry",
    }  # fmt: skip
    assert set(Contact.objects.values_list("department", flat=True)) == {"other"}
    result = client.get(reverse("imports:import_result", kwargs={"pk": job.pk})).content.decode()
    assert "&#x27;Werkstudent&#x27; mapped to entry (value mapping)" in result


def test_value_mapping_posts_are_checked(member):
    client, job, url = _upload(member, SENIORITIES, "contacts")
    sent = _as_sent(client.get(url), vm_0="king", apply="1")
    response = client.post(url, sent)
    assert (
        response.status_code == 400 and "Select a valid choice. king is not one" in response.content.decode()
    )
    sent = _as_sent(
        client.get(url), vm_0="entry", apply="1", vm_9_field="email", vm_9_value="a@x.com", vm_9="x"
    )
    assert client.post(url, sent).status_code == 302
    job.refresh_from_db()
    assert job.params["value_map"] == {"seniority": {"Werkstudent": "entry"}}  # not a choice field: ignored


def test_preview_and_import_add_technologies_and_accounts(member, django_capture_on_commit_callbacks):
    client, job, url = _upload(member, ACCOUNTS, "accounts")
    response = client.get(url)
    html = response.content.decode()
    assert "&#x27;Tableau&#x27; is not in the technology catalogue: added to it" in html
    assert response.context["report"]["extra"]["technologies_created"] == 4
    assert not Technology.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, _as_sent(response, confirm="1"))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["extra"]["technologies_created"] == 4
    assert technologies("globex.com") == ["Looker", "PowerBI", "Snowflake"]  # as first spelled

    JobRun.objects.all().delete()
    client, job, url = _upload(member, CONTACTS, "contacts")
    response = client.get(url)
    assert "Accounts created" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, _as_sent(response, confirm="1"))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["extra"]["accounts_created"] == 2
    assert Contact.objects.get(email="carla@acme.com").account.name == "Acme"  # imported just before
    assert Account.objects.get(domain="newco.io").name == "NewCo"
