"""Contacts files from CRMs: seniority and persona from the title; the stage column ("Lead Status")
recorded through the lifecycle service, never written directly; rows longer than the header."""

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from accounts.choices import LifecycleStage, Seniority
from accounts.models import Contact
from demo.catalogue import PERSONAS
from imports.mappings import resolve_mapping
from imports.services import csv_import
from revops.choices import ChangeAction, Role, TeamKind
from revops.models import ChangeRecord
from scoring.choices import LifecycleDecision
from scoring.engine.words import number
from scoring.lifecycle import contacts_stage_import
from scoring.models import LifecycleTransition, Notification, Ruleset
from tests.accounts.factories import ContactFactory, PersonaFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def write(tmp_path):
    counter = iter(range(1000))

    def make(content: str, name: str | None = None):
        path = tmp_path / (name or f"file{next(counter)}.csv")
        path.write_text(content, encoding="utf-8")
        return path

    return make


@pytest.fixture
def demo_personas(db):
    fields = ("name", "priority", "match_titles", "match_seniorities", "match_departments")
    return {p["name"]: PersonaFactory(**{f: p[f] for f in fields}) for p in PERSONAS}


def warnings(report):
    return {(w["column"], w["message"]): w["rows"] for w in report.as_dict()["warnings"]}


# --- 1. seniority and persona from the title -------------------------------------------------------
TITLES = """\
email,title
rita@acme.com,Head of RevOps
sam@acme.com,"VP, Sales"
cro@acme.com,CRO
dir@acme.com,Sr. Director
maya@acme.com,HEAD OF MARKETING
lead@acme.com,RevOps Lead
odd@acme.com,Looking for new opportunities
"""


def test_titles_give_seniority_and_persona_like_the_demo(write, demo_personas):
    report = csv_import(kind="contacts", path=write(TITLES))
    assert report.ok and report.created == 7, report.errors
    got = {c.email: (c.seniority, c.persona.name if c.persona else None) for c in Contact.objects.all()}
    assert got == {
        "rita@acme.com": ("director", "Rita, the RevOps Champion"),
        "sam@acme.com": ("vp", "Sam, the Sales Leader"),
        "cro@acme.com": ("c_level", "Sam, the Sales Leader"),
        "dir@acme.com": ("director", None),
        "maya@acme.com": ("director", "Maya, the Marketing Leader"),
        "lead@acme.com": ("manager", "Rita, the RevOps Champion"),
        "odd@acme.com": ("unknown", None),
    }
    said = warnings(report)
    assert said[("title", "no seniority given: read from the title as Director")] == [2, 5, 6]
    assert said[
        ("title", "no persona given: mapped by the title to the persona 'Rita, the RevOps Champion'")
    ] == [
        2,
        7,
    ]


def test_the_files_own_seniority_and_persona_win_over_the_title(write, demo_personas):
    path = write(
        "email,title,seniority,persona\n"
        "a@acme.com,Head of RevOps,manager,\n"
        'b@acme.com,Head of RevOps,,"Maya, the Marketing Leader"\n'
        "c@acme.com,Head of RevOps,entry,\n"  # an entry-level "head" is no Rita
    )
    report = csv_import(kind="contacts", path=path)
    assert report.ok, report.errors
    got = {c.email: (c.seniority, c.persona.name if c.persona else None) for c in Contact.objects.all()}
    assert got == {
        "a@acme.com": ("manager", "Rita, the RevOps Champion"),
        "b@acme.com": ("director", "Maya, the Marketing Leader"),
        "c@acme.com": ("entry", None),
    }


def test_a_stored_contact_keeps_its_seniority_and_persona_but_unknowns_are_filled(write, demo_personas):
    maya = demo_personas["Maya, the Marketing Leader"]
    ContactFactory(email="kept@acme.com", seniority=Seniority.VP, persona=maya, title="")
    ContactFactory(email="filled@acme.com", seniority=Seniority.UNKNOWN, persona=None, title="")
    report = csv_import(
        kind="contacts",
        path=write("email,title\nkept@acme.com,Head of RevOps\nfilled@acme.com,Head of RevOps\n"),
    )
    assert report.ok and report.updated == 2
    kept, filled = Contact.objects.get(email="kept@acme.com"), Contact.objects.get(email="filled@acme.com")
    assert (kept.seniority, kept.persona, kept.title) == (Seniority.VP, maya, "Head of RevOps")
    assert (filled.seniority, filled.persona.name) == (Seniority.DIRECTOR, "Rita, the RevOps Champion")


# --- 2. the stage column: "Lead Status" and friends -------------------------------------------------
@pytest.mark.parametrize("header", ["Lead Status", "Lifecycle Stage", "Status", "lead_status", "Lifecycle"])
def test_stage_headers_map_to_the_lifecycle_stage(header):
    mapping = resolve_mapping("contacts", ["Email", header])
    assert mapping.columns[1].target == "lifecycle_stage"


LEADS = """\
Email,Title,Lead Status
stored@acme.com,CFO,Working - Contacted
new1@acme.com,,Marketing Qualified Lead
new2@acme.com,,Working - Contacted
new3@acme.com,,Open - Not Contacted
new4@acme.com,,Closed - Converted
new5@acme.com,,MQL
"""


@pytest.fixture
def revops_member(user_in):
    return user_in(TeamKind.REVENUE_OPERATIONS, Role.MEMBER)


def test_a_decider_imports_stages_through_the_lifecycle_service_with_an_audit(write, revops_member):
    stored = ContactFactory(email="stored@acme.com", lifecycle_stage=LifecycleStage.MQL)
    report = csv_import(kind="contacts", path=write(LEADS, "leads.csv"), actor=revops_member)
    assert report.ok and report.written and report.created == 5, report.errors
    stages = dict(Contact.objects.values_list("email", "lifecycle_stage"))
    assert stages == {
        "stored@acme.com": "mql",  # a stored contact's stage moves only by decisions and the rules
        "new1@acme.com": "mql",
        "new2@acme.com": "sal",
        "new3@acme.com": "lead",
        "new4@acme.com": "opportunity",
        "new5@acme.com": "mql",
    }
    moves = LifecycleTransition.objects.order_by("contact__email")
    assert [(t.contact.email, t.from_stage, t.to_stage) for t in moves] == [
        ("new1@acme.com", "lead", "mql"),
        ("new2@acme.com", "lead", "sal"),
        ("new4@acme.com", "lead", "opportunity"),
        ("new5@acme.com", "lead", "mql"),
    ]
    assert {(t.decision, t.actor) for t in moves} == {(LifecycleDecision.IMPORT, revops_member)}
    assert all("leads.csv" in t.reason and "'Lead Status'" in t.reason for t in moves)
    record = ChangeRecord.objects.get(object_type__model="lifecycletransition")
    assert record.action == ChangeAction.IMPORT and record.actor == revops_member
    assert record.after["moved"] == 4 and record.after["to_stage"] == {"mql": 2, "sal": 1, "opportunity": 1}
    assert not Notification.objects.exists()  # history brought in, not news
    summary = report.as_dict()["lifecycle"]
    counts = [summary[k] for k in ("column", "new", "lead", "stored", "not_recorded")]
    assert counts == ["Lead Status", 4, 1, 1, 0]
    assert [(v["value"], v["stage"], v["count"]) for v in summary["values"]] == [
        ("Working - Contacted", "sal", 2),
        ("Closed - Converted", "opportunity", 1),
        ("MQL", "mql", 1),
        ("Marketing Qualified Lead", "mql", 1),
        ("Open - Not Contacted", "lead", 1),
    ]
    assert report.extra["starting_stages_recorded"] == 4
    assert ("Lead Status", "stage not changed: the contact exists, and a stored contact's stage moves only "
            "through lifecycle decisions and automatic moves") in warnings(report)  # fmt: skip
    assert stored.transitions.count() == 0


def test_a_marketer_records_lead_and_mql_only_and_is_told_about_the_rest(write, member):
    ContactFactory(email="stored@acme.com", lifecycle_stage=LifecycleStage.MQL)
    report = csv_import(kind="contacts", path=write(LEADS), actor=member)
    assert report.ok and report.created == 5
    stages = dict(Contact.objects.values_list("email", "lifecycle_stage"))
    assert (stages["new1@acme.com"], stages["new2@acme.com"], stages["new4@acme.com"]) == (
        "mql",
        "lead",
        "lead",
    )
    assert set(LifecycleTransition.objects.values_list("to_stage", flat=True)) == {"mql"}
    summary = report.as_dict()["lifecycle"]
    assert (summary["new"], summary["not_recorded"]) == (2, 2)
    assert "records Lead and MQL only" in summary["policy"]
    message = (
        "SAL not recorded: only members and leads of a sales, BDR/SDR or revenue-operations team record an "
        "imported stage past MQL; the new contact starts as Lead"
    )
    assert warnings(report)[("Lead Status", message)] == [4]


def test_a_preview_records_nothing_and_says_what_would_happen(write, revops_member):
    ContactFactory(email="stored@acme.com", lifecycle_stage=LifecycleStage.MQL)
    report = csv_import(kind="contacts", path=write(LEADS), actor=revops_member, preview=True)
    assert report.ok and not report.written
    assert Contact.objects.count() == 1 and not LifecycleTransition.objects.exists()
    summary = report.as_dict()["lifecycle"]
    assert (summary["new"], summary["stored"]) == (4, 1)
    assert "Not written to contacts directly" in summary["policy"]
    # what the rules will do with an imported MQL, by the published version's threshold
    live = Ruleset.objects.get(status="published")
    assert f"below {number(live.recycle_below)} (the published rules' recycle threshold)" in summary["policy"]


def test_unknown_status_values_are_listed_with_counts_and_can_be_mapped(write, revops_member):
    path = write("email,Lead Status\na@x.com,Hot\nb@x.com,hot\nc@x.com,Pending review\nd@x.com,Nurture\n")
    report = csv_import(kind="contacts", path=path, actor=revops_member)
    assert not report.ok and not Contact.objects.exists()
    [column] = report.as_dict()["unknown_values"]
    assert column["field"] == "lifecycle_stage" and column["column"] == "Lead Status"
    assert [(v["value"], v["count"]) for v in column["values"]] == [("Hot", 2), ("Pending review", 1)]
    report = csv_import(
        kind="contacts",
        path=path,
        actor=revops_member,
        value_map={"lifecycle_stage": {"hot": "sql", "pending review": "lead"}},
    )
    assert report.ok
    assert dict(Contact.objects.values_list("email", "lifecycle_stage")) == {
        "a@x.com": "sql", "b@x.com": "sql", "c@x.com": "lead", "d@x.com": "recycled",
    }  # fmt: skip


def test_the_service_refuses_sales_stages_to_a_marketer_and_moves_only_contacts_at_lead(
    member, revops_member
):
    at_lead = ContactFactory(lifecycle_stage=LifecycleStage.LEAD)
    moved_on = ContactFactory(lifecycle_stage=LifecycleStage.SQL)
    with pytest.raises(PermissionDenied, match="SQL"):
        contacts_stage_import(stages={at_lead.pk: "sql"}, user=member, source="x.csv")
    assert not LifecycleTransition.objects.exists()
    moved = contacts_stage_import(
        stages={at_lead.pk: "sql", moved_on.pk: "mql"}, user=revops_member, source="x.csv"
    )
    assert moved == 1
    at_lead.refresh_from_db(), moved_on.refresh_from_db()
    assert (at_lead.lifecycle_stage, moved_on.lifecycle_stage) == ("sql", "sql")


def test_the_command_says_what_it_does_with_the_stage_column(write):
    ContactFactory(email="stored@acme.com", lifecycle_stage=LifecycleStage.MQL)
    out = io.StringIO()
    call_command("import_csv", "contacts", str(write(LEADS, "leads.csv")), stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "Lifecycle stage column 'Lead Status': Not written to contacts directly" in text
    assert "'Working - Contacted' → sal (2)" in text
    assert "New contacts with a stage to record: 4 · at Lead: 1" in text
    assert Contact.objects.get(email="new2@acme.com").lifecycle_stage == "sal"  # the command line decides


# --- 3. rows longer than the header ----------------------------------------------------------------
LONG = """\
email,title
a@x.com,CFO,
b@x.com,CEO,,
c@x.com,Head of Sales, EMEA
d@x.com,CTO
"""


def test_long_rows_are_reported_with_their_row_numbers_and_extra_cells(write):
    report = csv_import(kind="contacts", path=write(LONG))
    data = report.as_dict()
    assert data["long_row_count"] == 3
    assert data["long_rows"] == [
        {"row": 2, "extra": 1, "blank": True},
        {"row": 3, "extra": 2, "blank": True},
        {"row": 4, "extra": 1, "blank": False},
    ]
    assert data["long_rows_text"].startswith(
        "3 row(s) have more cells than the header's 2 columns: row 2 (+1 empty cell), "
        "row 3 (+2 empty cells), row 4 (+1 cell)."
    )
    [error] = report.errors
    assert error["row"] == 4 and "1 extra cell(s), holding 'EMEA'; the row is not imported" in error["reason"]
    assert warnings(report)[("(row)", "empty cells beyond the header's 2 columns: ignored")] == [2, 3]
    assert not Contact.objects.exists()  # all or nothing
    report = csv_import(kind="contacts", path=write(LONG), row_by_row=True)
    assert report.created == 3 and not Contact.objects.filter(email="c@x.com").exists()


def test_the_command_reports_long_rows(write):
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_csv", "contacts", str(write(LONG)), stdout=out, stderr=io.StringIO())
    assert (
        "Long rows: 3 row(s) have more cells than the header's 2 columns: row 2 (+1 empty cell)"
        in out.getvalue()
    )
