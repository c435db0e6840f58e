"""The real CRM Sales Opportunities data set, quirks and all, imported end to end and re-imported."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count

from accounts.models import Account, Opportunity, Product, SalesAgent
from imports.services import csv_import
from revops.choices import ChangeAction
from revops.models import ChangeRecord

# The shared copy of the data set; a checkout elsewhere may keep one under tests/data/.
DATASET = Path("/work/shared/datasets/crm-sales-opportunities")
if not DATASET.is_dir():
    DATASET = Path(__file__).resolve().parents[1] / "data" / "crm-sales-opportunities"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not DATASET.is_dir(), reason="data set not available"),
]

# The file's revenue column is in millions of US dollars (its README says so): say it, don't guess.
FILES = [
    ("accounts", "accounts.csv", {"revenue": "annual_revenue_millions"}),
    ("products", "products.csv", {}),
    ("sales_agents", "sales_teams.csv", {}),
    ("opportunities", "sales_pipeline.csv", {}),
]


def import_all() -> dict:
    reports = {}
    for kind, name, mapping in FILES:
        report = csv_import(kind=kind, path=DATASET / name, mapping=mapping)
        assert report.ok and report.written, (name, report.errors[:5])
        reports[kind] = report
    return reports


def test_the_whole_data_set_imports_with_its_quirks_handled():
    reports = import_all()

    assert Account.objects.count() == 85
    assert Product.objects.count() == 7
    assert SalesAgent.objects.count() == 35
    assert Opportunity.objects.count() == 8800
    assert [reports[k].created for k in ("accounts", "products", "sales_agents", "opportunities")] == [
        85,
        7,
        35,
        8800,
    ]

    # The hierarchy: 15 subsidiaries, some naming a parent that comes later in the file.
    assert Account.objects.filter(parent__isnull=False).count() == 15
    assert reports["accounts"].extra["parents_linked"] == 15
    parent_of = dict(Account.objects.filter(parent__isnull=False).values_list("name", "parent__name"))
    assert parent_of["Bluth Company"] == "Acme Corporation"
    assert parent_of["Cheers"] == "Massive Dynamic"  # Massive Dynamic is further down
    assert parent_of["Nam-zim"] == "Warephase"  # so is Warephase
    assert parent_of["dambase"] == "Inity"
    assert Account.objects.get(name="Acme Corporation").subsidiaries.count() == 4
    assert Account.objects.get(name="Sonron").subsidiaries.count() == 3

    # Firmographics, with the data set's misspellings corrected and reported.
    acme = Account.objects.get(name="Acme Corporation")
    assert acme.annual_revenue == Decimal("1100040000.00")
    assert (acme.industry, acme.founded_year, acme.employee_count, acme.country.code) == (
        "technology",
        1996,
        2822,
        "US",
    )
    assert Account.objects.get(name="Bioholding").country.code == "PH"
    assert Account.objects.get(name="Hottechi").country.code == "KR"
    assert Account.objects.filter(industry="technology").count() == 12
    assert not Account.objects.filter(industry="technolgy").exists()
    warnings = {w["message"]: w for w in reports["accounts"].as_dict()["warnings"]}
    assert warnings["'technolgy' read as 'technology' (spelling)"]["count"] == 12
    assert warnings["'Philipines' read as Philippines (PH)"]["rows"] == [5]
    assert warnings["'Korea' read as South Korea (KR)"]["rows"] == [37]
    assert Account.objects.get(name="Condax").annual_revenue == Decimal("4540000.00")

    # Products and agents.
    gtx_pro = Product.objects.get(name="GTX Pro")
    assert (gtx_pro.key, gtx_pro.series, gtx_pro.list_price) == ("gtxpro", "GTX", Decimal("4821.00"))
    agent = SalesAgent.objects.get(name="Anna Snelling")
    assert (agent.manager, agent.regional_office) == ("Dustin Brinkmann", "Central")

    # Opportunities: products (GTXPro → GTX Pro) and agents on every one, orphans kept.
    assert not Opportunity.objects.filter(product__isnull=True).exists()
    assert not Opportunity.objects.filter(sales_agent__isnull=True).exists()
    assert Opportunity.objects.filter(product=gtx_pro).count() == 1480
    [product_warning] = reports["opportunities"].as_dict()["warnings"]
    assert (
        product_warning["message"] == "'GTXPro' matched product 'GTX Pro'"
        and product_warning["count"] == 1480
    )
    orphans = Opportunity.objects.filter(account__isnull=True)
    assert orphans.count() == 1425
    assert dict(orphans.values_list("stage").annotate(n=Count("id"))) == {
        "prospecting": 337,
        "engaging": 1088,
    }
    assert dict(Opportunity.objects.values_list("stage").annotate(n=Count("id"))) == {
        "won": 4238, "lost": 2473, "engaging": 1589, "prospecting": 500,
    }  # fmt: skip
    open_deals = Opportunity.objects.filter(stage__in=["prospecting", "engaging"])
    assert open_deals.count() == 2089
    assert not open_deals.filter(close_date__isnull=False).exists()
    assert not open_deals.filter(amount__isnull=False).exists()
    assert Opportunity.objects.filter(stage="prospecting", engaged_date__isnull=True).count() == 500

    first = Opportunity.objects.select_related("account", "product", "sales_agent").get(
        external_id="1C1I7A6R"
    )
    assert (first.sales_agent.name, first.product.name, first.account.name) == (
        "Moses Frase",
        "GTX Plus Basic",
        "Cancity",
    )
    assert (first.stage, first.amount) == ("won", Decimal("1054.00"))
    assert (first.engaged_date, first.close_date) == (datetime.date(2016, 10, 20), datetime.date(2017, 3, 1))
    assert first.name == "GTX Plus Basic — Cancity"
    orphan = Opportunity.objects.get(external_id="HAXMC4IX")
    assert (orphan.account, orphan.stage, orphan.name) == (None, "engaging", "MG Advanced — no account")

    assert ChangeRecord.objects.filter(action=ChangeAction.IMPORT).count() == 4


def test_re_importing_the_data_set_changes_nothing():
    import_all()
    before = list(
        Opportunity.objects.order_by("external_id").values_list("external_id", "account_id", "amount")
    )
    for kind, name, mapping in FILES:
        report = csv_import(kind=kind, path=DATASET / name, mapping=mapping)
        assert report.ok and (report.created, report.updated) == (0, 0), name
        assert report.unchanged == report.rows
    assert (Account.objects.count(), Product.objects.count(), SalesAgent.objects.count()) == (85, 7, 35)
    assert Opportunity.objects.count() == 8800
    assert before == list(
        Opportunity.objects.order_by("external_id").values_list("external_id", "account_id", "amount")
    )
    assert Account.objects.filter(parent__isnull=False).count() == 15
