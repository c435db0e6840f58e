"""The CSV import engine: mapping, validation with row/column/reason, upserts, modes, set-based writes."""

import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Channel, Contact, EngagementEvent, Opportunity, Product, SalesAgent
from imports.mappings import CUSTOM, IGNORE, explicit_mapping_parse, resolve_mapping
from imports.services import csv_import, report_errors_csv
from revops.choices import ChangeAction
from revops.models import ChangeRecord
from tests.accounts.factories import AccountFactory, PersonaFactory, ProductFactory, SalesAgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def write(tmp_path):
    """``write("a,b\\n1,2\\n")`` → the path of a CSV file with that content (text or bytes)."""
    counter = iter(range(1000))

    def make(content, name=None):
        path = tmp_path / (name or f"file{next(counter)}.csv")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return make


def errors_by_row(report):
    return {(e["row"], e["column"]): e for e in report.errors}


# --- mapping ----------------------------------------------------------------------------------
def test_headers_map_by_alias_ignoring_case_spaces_and_underscores():
    headers = ["Company", "Web Site", "SECTOR", "head count", "Annual Revenue", "Founded", "Office_Location",
               "Subsidiary Of", "Favourite colour"]  # fmt: skip
    mapping = resolve_mapping("accounts", headers, {})
    assert mapping.as_dict() == {
        "Company": "name",
        "Web Site": "domain",
        "SECTOR": "industry",
        "head count": "employee_count",
        "Annual Revenue": "annual_revenue",
        "Founded": "founded_year",
        "Office_Location": "country",
        "Subsidiary Of": "parent",
        "Favourite colour": CUSTOM,
    }
    assert mapping.unknown_headers == ["Favourite colour"]
    assert not mapping.errors


def test_exact_field_name_beats_alias():
    mapping = resolve_mapping("accounts", ["company", "name"], {})
    assert mapping.as_dict() == {"company": CUSTOM, "name": "name"}


def test_explicit_mapping_overrides_and_reports_mistakes():
    explicit = {"Revenue": "annual_revenue_millions", "notes": "ignore"}
    mapping = resolve_mapping("accounts", ["account", "revenue", "notes"], explicit)
    assert mapping.as_dict() == {"account": "name", "revenue": "annual_revenue_millions", "notes": IGNORE}

    bad = resolve_mapping("accounts", ["account", "revenue"], {"revenue": "turnover", "missing": "name"})
    reasons = " | ".join(r for _, r in bad.errors)
    assert "'turnover' is not a field of accounts" in reasons
    assert "'missing' that the file does not have" in reasons

    explicit = {"revenue": "annual_revenue", "rev2": "annual_revenue_millions"}
    both = resolve_mapping("accounts", ["account", "revenue", "rev2"], explicit)
    assert any("both 'revenue' and 'rev2'" in r for _, r in both.errors)


def test_explicit_mapping_parse():
    assert explicit_mapping_parse(["revenue=annual_revenue_millions", "Notes="]) == {
        "revenue": "annual_revenue_millions",
        "Notes": IGNORE,
    }
    with pytest.raises(ValueError, match="HEADER=FIELD"):
        explicit_mapping_parse(["revenue"])


def test_missing_required_column_is_reported_on_the_header_row(write):
    path = write("company_size,sector\n10,retail\n")
    report = csv_import(kind="accounts", path=path)
    assert not report.ok and not report.written
    [error] = report.errors
    assert error["row"] == 1 and error["column"] == "name"
    assert "required column missing" in error["reason"] and "company" in error["reason"]
    assert Account.objects.count() == 0


# --- accounts ---------------------------------------------------------------------------------
ACCOUNTS = """\
Company,Website,Sector,Employees,Revenue (millions),Founded,Country,Parent,Tier
Acme,https://www.acme.com/about,technolgy,"2,822",1100.04,1996,United States,,gold
Bluth,bluth.com,retail,300,5,1993,Philipines,Acme,
Initech,initech.com,software,120,12.5,2001,Korea,,silver
"""


def test_accounts_import_with_corrections_listed_and_unknown_columns_kept(write):
    path = write(ACCOUNTS)
    report = csv_import(kind="accounts", path=path, mapping={"Revenue (millions)": "annual_revenue_millions"})

    assert report.ok and report.written
    assert (report.rows, report.created, report.updated, report.rejected) == (3, 3, 0, 0)
    assert report.extra["parents_linked"] == 1
    acme = Account.objects.get(domain="acme.com")
    assert acme.name == "Acme"
    assert acme.industry == "technology"
    assert acme.employee_count == 2822
    assert acme.annual_revenue == Decimal("1100040000.00")
    assert acme.founded_year == 1996
    assert acme.country.code == "US"
    assert acme.custom == {"Tier": "gold"}
    bluth = Account.objects.get(domain="bluth.com")
    assert bluth.parent == acme and bluth.country.code == "PH" and bluth.custom == {}
    assert Account.objects.get(domain="initech.com").country.code == "KR"

    warnings = {(w["column"], w["message"]): w for w in report.as_dict()["warnings"]}
    assert warnings[("Sector", "'technolgy' read as 'technology' (spelling)")]["rows"] == [2]
    assert warnings[("Country", "'Philipines' read as Philippines (PH)")]["rows"] == [3]
    assert ("Country", "'Korea' read as South Korea (KR)") in warnings
    assert "Tier" in report.unknown_headers


def test_one_change_record_per_import_with_counts(write):
    csv_import(
        kind="accounts", path=write(ACCOUNTS), mapping={"Revenue (millions)": "annual_revenue_millions"}
    )
    [record] = ChangeRecord.objects.filter(action=ChangeAction.IMPORT)
    assert record.object_type.model == "account"
    assert record.after["created"] == 3 and record.after["rows"] == 3 and record.after["parents_linked"] == 1
    assert ChangeRecord.objects.count() == 1  # not one per row


def test_reimport_updates_instead_of_duplicating_and_blank_cells_keep_values(write):
    mapping = {"Revenue (millions)": "annual_revenue_millions"}
    csv_import(kind="accounts", path=write(ACCOUNTS), mapping=mapping)
    again = csv_import(kind="accounts", path=write(ACCOUNTS), mapping=mapping)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert again.extra["parents_linked"] == 0
    assert Account.objects.count() == 3

    changed = ACCOUNTS.replace("bluth.com,retail,300", "bluth.com,,450")
    report = csv_import(kind="accounts", path=write(changed), mapping=mapping)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    bluth = Account.objects.get(domain="bluth.com")
    assert bluth.employee_count == 450
    assert bluth.industry == "retail"  # the blank cell did not erase it
    assert ChangeRecord.objects.filter(action=ChangeAction.IMPORT).count() == 3


def test_account_without_domain_upserts_by_name_and_later_gets_its_domain(write):
    csv_import(kind="accounts", path=write("account,sector\nGlobex,retail\n"))
    report = csv_import(kind="accounts", path=write("account,sector\n  Globex ,retail\n"))
    assert (report.created, report.unchanged) == (0, 1)
    report = csv_import(kind="accounts", path=write("account,sector\nGLOBEX,retail\n"))
    assert (report.created, report.updated) == (0, 1)  # same account, its name as the file spells it
    report = csv_import(kind="accounts", path=write("account,website\nGlobex,globex.com\n"))
    assert (report.created, report.updated) == (0, 1)
    assert list(Account.objects.values_list("name", "domain")) == [("Globex", "globex.com")]
    assert Account.objects.get().industry == "retail"


BAD_ACCOUNTS = """\
account,domain,employees,year_established,office_location,sector,parent
Good One,good.com,10,2001,Germany,retail,
Negative,neg.com,-5,2001,Germany,retail,
Bad Domain,not a domain,10,2001,Germany,retail,
Future,future.com,10,2999,Germany,retail,
Nowhere,nowhere.com,10,2001,Atlantis,retail,Ghost Corp
,noname.com,10,2001,Germany,retail,
Good Two,good2.com,10,2001,Germany,retail,
"""


def test_all_or_nothing_reports_row_column_reason_and_data_and_writes_nothing(write):
    report = csv_import(kind="accounts", path=write(BAD_ACCOUNTS))

    assert not report.ok and not report.written
    assert report.rejected == 5
    errors = errors_by_row(report)
    assert errors[(3, "employees")]["reason"] == "must not be negative"
    assert errors[(3, "employees")]["value"] == "-5"
    assert errors[(3, "employees")]["data"]["account"] == "Negative"  # the row as it was
    assert "not a valid domain" in errors[(4, "domain")]["reason"]
    assert "in the future" in errors[(5, "year_established")]["reason"]
    assert "'Atlantis' is not a country" in errors[(6, "office_location")]["reason"]
    assert "unknown parent account 'Ghost Corp'" in errors[(6, "parent")]["reason"]  # every problem of a row
    assert errors[(7, "account")]["reason"] == "is required"
    assert "Nothing imported" in report.summary() and "row 3" in report.summary()
    assert Account.objects.count() == 0
    assert not ChangeRecord.objects.exists()


def test_row_by_row_imports_the_good_rows_and_reports_the_bad(write):
    report = csv_import(kind="accounts", path=write(BAD_ACCOUNTS), row_by_row=True)
    assert report.ok and report.written
    assert (report.created, report.rejected) == (2, 5)
    assert set(Account.objects.values_list("name", flat=True)) == {"Good One", "Good Two"}
    assert "5 row(s) rejected" in report.summary()


def test_dry_run_counts_but_writes_nothing(write):
    AccountFactory(name="Acme", domain="acme.com")
    report = csv_import(kind="accounts", path=write(ACCOUNTS), dry_run=True)
    assert report.dry_run and not report.written
    assert (report.created, report.updated) == (2, 1)
    assert report.extra["parents_linked"] == 1
    assert Account.objects.count() == 1
    assert not ChangeRecord.objects.exists()
    assert report.summary().startswith("Dry run: 3 row(s) read: would create 2, would update 1")


def test_revenue_in_plain_dollars_that_look_like_millions_gets_a_note(write):
    report = csv_import(kind="accounts", path=write("account,revenue\nA,1100.04\nB,52.5\n"), dry_run=True)
    assert any("revenue=annual_revenue_millions" in note for note in report.notes)


# --- parents ----------------------------------------------------------------------------------
def test_parent_named_later_in_the_file_and_by_domain_or_existing_account(write):
    AccountFactory(name="Old Parent", domain="oldparent.com")
    csv_text = """\
account,domain,subsidiary_of
Child,child.com,Parent Later
Grandchild,grandchild.com,child.com
Adopted,adopted.com,Old Parent
Parent Later,parent.com,
"""
    report = csv_import(kind="accounts", path=write(csv_text))
    assert report.ok, report.errors
    parents = dict(Account.objects.values_list("name", "parent__name"))
    assert parents["Child"] == "Parent Later"
    assert parents["Grandchild"] == "Child"
    assert parents["Adopted"] == "Old Parent"
    assert parents["Parent Later"] is None


def test_unknown_self_and_cyclic_parents_are_row_errors(write):
    csv_text = """\
account,domain,parent
A,a.com,b.com
B,b.com,A
Solo,solo.com,Solo
Orphan,orphan.com,Nobody Inc
Fine,fine.com,
"""
    report = csv_import(kind="accounts", path=write(csv_text))
    errors = errors_by_row(report)
    assert "unknown parent account 'Nobody Inc'" in errors[(5, "parent")]["reason"]
    assert errors[(5, "parent")]["data"] == {
        "account": "Orphan",
        "domain": "orphan.com",
        "parent": "Nobody Inc",
    }
    assert errors[(4, "parent")]["reason"] == "an account cannot be its own parent"
    assert "cycle" in errors[(2, "parent")]["reason"] and "cycle" in errors[(3, "parent")]["reason"]
    assert Account.objects.count() == 0


def test_row_by_row_rejects_children_of_rejected_parents(write):
    csv_text = (
        "account,domain,employees,parent\nParent,parent.com,-1,\nChild,child.com,5,Parent\nOther,o.com,1,\n"
    )
    report = csv_import(kind="accounts", path=write(csv_text), row_by_row=True)
    errors = errors_by_row(report)
    assert "row 2 was rejected" in errors[(3, "parent")]["reason"]
    assert list(Account.objects.values_list("name", flat=True)) == ["Other"]


def test_duplicate_natural_key_in_the_file_is_an_error(write):
    report = csv_import(kind="accounts", path=write("account,domain\nA,a.com\nA again,A.com\n"))
    [error] = report.errors
    assert error["row"] == 3 and error["column"] == "domain" and "duplicate: row 2" in error["reason"]


# --- contacts ---------------------------------------------------------------------------------
def test_contacts_upsert_by_email_with_accounts_personas_and_custom(write):
    acme = AccountFactory(name="Acme", domain="acme.com")
    globex = AccountFactory(name="Globex", domain="globex.com")
    PersonaFactory(name="Economic buyer")
    csv_text = """\
Email,Name,Job Title,Seniority,Company,Persona,Lead source
Jane@Acme.com,Jane Doe,CFO,C-level,,Economic buyer,webinar
bob@globex.com,Bob Smith,Engineer,individual contributor,Globex,,
"""
    report = csv_import(kind="contacts", path=write(csv_text))
    assert report.ok and report.created == 2, report.errors
    jane = Contact.objects.get(email="jane@acme.com")
    assert (jane.first_name, jane.last_name, jane.title, jane.seniority) == ("Jane", "Doe", "CFO", "c_level")
    assert jane.account == acme  # found by the e-mail's domain
    assert jane.persona.name == "Economic buyer"
    assert jane.custom == {"Lead source": "webinar"}
    assert Contact.objects.get(email="bob@globex.com").account == globex
    again = csv_import(kind="contacts", path=write(csv_text))
    assert (again.created, again.unchanged) == (0, 2)


def test_contacts_bad_email_and_choice_are_reported(write):
    csv_text = "email,company,seniority\nnot-an-email,,vp\nok@x.com,Nowhere Ltd,vp\nok2@x.com,,boss\n"
    report = csv_import(kind="contacts", path=write(csv_text))
    errors = errors_by_row(report)
    assert set(errors) == {(2, "email"), (4, "seniority")}  # the unknown company would be created
    assert "not a valid e-mail address" in errors[(2, "email")]["reason"]
    assert errors[(2, "email")]["value"] == "not-an-email"
    assert errors[(4, "seniority")]["reason"].startswith(
        "'boss' is not a seniority; accepted: c_level, vp, director, manager, individual, entry, unknown"
    )
    assert errors[(4, "seniority")]["reason"].endswith("or map it with --map-values seniority:boss=<value>")
    assert Contact.objects.count() == 0 and Account.objects.count() == 0


# --- opportunities, products, agents --------------------------------------------------------
@pytest.fixture
def pipeline_refs():
    AccountFactory(name="Cancity", domain="cancity.com")
    ProductFactory(name="GTX Pro", key="gtxpro")
    SalesAgentFactory(name="Moses Frase")


def test_opportunities_with_loose_product_match_built_names_and_open_deals(write, pipeline_refs):
    csv_text = """\
opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value,channel
A1,Moses Frase,GTXPro,Cancity,Won,2016-10-20,2017-03-01,"1,054",outbound
A2,Moses Frase,GTX Pro,,Prospecting,,,,
"""
    report = csv_import(kind="opportunities", path=write(csv_text))
    assert report.ok and report.created == 2, report.errors
    won = Opportunity.objects.get(external_id="A1")
    assert won.stage == "won" and won.amount == Decimal("1054.00")
    assert won.engaged_date == datetime.date(2016, 10, 20) and won.close_date == datetime.date(2017, 3, 1)
    assert won.product.name == "GTX Pro" and won.sales_agent.name == "Moses Frase"
    assert won.account.name == "Cancity" and won.channel == Channel.objects.get(slug="outbound")
    assert won.name == "GTX Pro — Cancity"
    open_deal = Opportunity.objects.get(external_id="A2")
    assert open_deal.account is None and open_deal.close_date is None and open_deal.amount is None
    assert open_deal.name == "GTX Pro — no account" and open_deal.stage == "prospecting"
    [warning] = report.as_dict()["warnings"]
    assert warning["message"] == "'GTXPro' matched product 'GTX Pro'" and warning["rows"] == [2]

    Opportunity.objects.filter(external_id="A1").update(name="Renamed by a seller")
    again = csv_import(kind="opportunities", path=write(csv_text))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (
        Opportunity.objects.get(external_id="A1").name == "Renamed by a seller"
    )  # built names never overwrite


def test_opportunity_errors_unknown_stage_bad_date_order_and_references(write, pipeline_refs):
    csv_text = """\
opportunity_id,product,account,deal_stage,engage_date,close_date,sales_agent
B1,GTX Pro,Cancity,Closing,2016-10-20,,Moses Frase
B2,GTX Pro,Cancity,Won,20/10/2016,,Moses Frase
B3,GTX Pro,Cancity,Won,2016-10-20,2016-01-01,Moses Frase
B4,Quantum Widget,Cancity,Won,,,Moses Frase
B5,GTX Pro,Unknown Co,Won,,,Moses Frase
B6,GTX Pro,Cancity,Won,,,Nobody
,GTX Pro,Cancity,Won,,,Moses Frase
"""
    report = csv_import(kind="opportunities", path=write(csv_text))
    errors = errors_by_row(report)
    assert errors[(2, "deal_stage")]["reason"] == (
        "'Closing' is not an opportunity stage; accepted: prospecting, engaging, proposal, negotiation, won, "
        "lost — or map it with --map-values stage:Closing=<value>"
    )
    assert "write dates as YYYY-MM-DD" in errors[(3, "engage_date")]["reason"]
    assert "is before the engage date 2016-10-20" in errors[(4, "close_date")]["reason"]
    assert "unknown product 'Quantum Widget'" in errors[(5, "product")]["reason"]
    assert "known products: GTX Pro" in errors[(5, "product")]["reason"]
    assert "unknown account 'Unknown Co'" in errors[(6, "account")]["reason"]
    assert "unknown sales agent 'Nobody'" in errors[(7, "sales_agent")]["reason"]
    assert errors[(8, "opportunity_id")]["reason"] == "is required"
    assert Opportunity.objects.count() == 0


def test_update_that_contradicts_stored_dates_is_rejected(write, pipeline_refs):
    csv_import(
        kind="opportunities",
        path=write("opportunity_id,product,engage_date\nC1,GTX Pro,2020-05-01\nC2,GTX Pro,\n"),
    )
    update = "opportunity_id,close_date\nC1,2020-01-01\nC2,2020-01-01\n"
    report = csv_import(kind="opportunities", path=write(update))
    [error] = report.errors
    assert (
        error["row"] == 2 and error["column"] == "close_date" and "before the engage date" in error["reason"]
    )
    assert error["data"] == {"opportunity_id": "C1", "close_date": "2020-01-01"}
    assert not report.written and report.updated == 0
    assert not Opportunity.objects.filter(close_date__isnull=False).exists()  # all or nothing

    rows = csv_import(kind="opportunities", path=write(update), row_by_row=True)
    assert (rows.updated, rows.rejected) == (1, 1)
    assert list(
        Opportunity.objects.filter(close_date__isnull=False).values_list("external_id", flat=True)
    ) == ["C2"]


def test_products_and_agents_upsert_by_name(write):
    report = csv_import(
        kind="products", path=write("product,series,sales_price\nGTX Pro,GTX,4821\nMG Special,MG,55\n")
    )
    assert report.created == 2
    again = csv_import(kind="products", path=write("product,series,sales_price\ngtxpro,GTX,4900\n"))
    assert (again.created, again.updated) == (0, 1)
    product = Product.objects.get(key="gtxpro")
    assert product.list_price == Decimal("4900.00") and product.name == "gtxpro"

    csv_text = "sales_agent,manager,regional_office\nAnna Snelling,Dustin Brinkmann,Central\n"
    assert csv_import(kind="sales_agents", path=write(csv_text)).created == 1
    moved = csv_text.replace("Central", "East")
    assert csv_import(kind="sales_agents", path=write(moved)).updated == 1
    assert SalesAgent.objects.get().regional_office == "East"


# --- files that are not good CSV --------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "The file is empty."),
        (b"\n\n  \n", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"%PDF-1.7\n%\xe2\xe3", "PDF"),
        (b"\x00\x01\x02\x03binary\x00\xff", "binary file"),
        (b"account,domain\n", "no data rows"),
        (b",,\nAcme,acme.com,\n", "header row"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(write, content, reason):
    report = csv_import(kind="accounts", path=write(content))
    assert not report.ok and not report.written
    assert reason in report.fatal
    assert report.errors[0]["column"] == "(file)"
    assert Account.objects.count() == 0


def test_semicolon_and_windows_1252_files_are_read(write):
    report = csv_import(
        kind="accounts", path=write("account;domain;country\nCafé Müller;cafe.de;Germany\n".encode("cp1252"))
    )
    assert report.ok and report.created == 1
    assert Account.objects.get().name == "Café Müller"
    assert any("Windows-1252" in note for note in report.notes)


def test_rows_with_more_values_than_headers_are_errors(write):
    report = csv_import(
        kind="accounts", path=write("account,domain\nAcme, Inc,acme.com\nGlobex,globex.com\n")
    )
    [error] = report.errors
    assert error["row"] == 2 and "3 values but the header names 2 columns" in error["reason"]


def test_errors_csv_lists_reasons_and_the_row_as_given(write):
    report = csv_import(kind="accounts", path=write(BAD_ACCOUNTS))
    out = io.StringIO()
    count = report_errors_csv(report, out)
    lines = out.getvalue().splitlines()
    assert count == 6
    assert (
        lines[0]
        == "row,column,value,reason,account,domain,employees,year_established,office_location,sector,parent"
    )
    assert lines[1].startswith("3,employees,-5,must not be negative,Negative,neg.com,-5,2001,Germany,retail")


# --- progress and set-based writes ------------------------------------------------------------
def test_progress_reports_validation_then_writing(write):
    calls = []
    rows = "".join(f"Company {i},c{i}.com\n" for i in range(2500))
    csv_import(kind="accounts", path=write("account,domain\n" + rows), progress=lambda *a: calls.append(a))
    assert calls[0] == (0, 5000, "validating")
    assert (2500, 5000, "importing") in calls
    assert calls[-1] == (5000, 5000, "done")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def _queries(path, **kwargs) -> int:
    with CaptureQueriesContext(connection) as ctx:
        report = csv_import(path=path, **kwargs)
    assert report.ok, report.errors[:3]
    return len(ctx.captured_queries)


def test_writes_are_set_based_not_one_query_per_row(write):
    small = write("account,domain,employees\n" + "".join(f"S{i},s{i}.com,{i}\n" for i in range(20)))
    large = write("account,domain,employees\n" + "".join(f"L{i},l{i}.com,{i}\n" for i in range(1500)))
    queries_small = _queries(small, kind="accounts")
    queries_large = _queries(large, kind="accounts")
    assert Account.objects.count() == 1520
    # 75 times the rows: a few more batches (SQLite caps a statement at 999 parameters), not 1,500 queries.
    assert queries_large <= queries_small + 1500 // 50
    # Updating all of them is set-based too.
    changed = write("account,domain,employees\n" + "".join(f"L{i},l{i}.com,{i + 1}\n" for i in range(1500)))
    assert _queries(changed, kind="accounts") <= queries_small + 1500 // 25
    assert Account.objects.get(domain="l7.com").employee_count == 8


# --- events (through accounts.ingest) ---------------------------------------------------------
EVENTS = """\
message_id,type,occurred_at,domain,email,url,topic,plan
m1,page_view,2024-05-01T10:00:00Z,acme.com,,https://acme.com/pricing,,pro
m2,Demo request,2024-05-02T10:00:00+02:00,,jane@globex.com,,,
m3,intent,2024-05-03T10:00:00Z,acme.com,,,crm software,
"""


def test_events_go_through_the_ingestion_service_and_are_idempotent(write):
    report = csv_import(kind="events", path=write(EVENTS))
    assert report.ok and report.written, report.errors
    assert report.created == 3
    assert report.extra["accounts_created"] == 2 and report.extra["contacts_created"] == 1
    event = EngagementEvent.objects.get(message_id="m1")
    assert event.account.domain == "acme.com" and event.properties == {"plan": "pro"}
    assert EngagementEvent.objects.get(message_id="m2").event_type == "demo_request"

    again = csv_import(kind="events", path=write(EVENTS))
    assert (again.created, again.unchanged, again.extra["duplicates"]) == (0, 3, 3)
    assert EngagementEvent.objects.count() == 3


def test_event_errors_come_back_as_rows_and_columns_and_nothing_is_written(write):
    bad = EVENTS + "m4,page_view,2024-05-03T10:00:00,acme.com,,,,\nm5,bogus,2024-05-03T10:00:00Z,,,,,\n"
    report = csv_import(kind="events", path=write(bad))
    errors = errors_by_row(report)
    assert "time zone" in errors[(5, "occurred_at")]["reason"]
    assert "Must be one of" in errors[(6, "type")]["reason"]
    assert "needs an account" in errors[(6, "domain")]["reason"]
    assert EngagementEvent.objects.count() == 0 and Account.objects.count() == 0

    dry = csv_import(kind="events", path=write(bad), dry_run=True, row_by_row=True)
    assert (dry.created, dry.rejected) == (3, 2) and EngagementEvent.objects.count() == 0

    rows = csv_import(kind="events", path=write(bad), row_by_row=True)
    assert (rows.created, rows.rejected) == (3, 2)
    assert EngagementEvent.objects.count() == 3
