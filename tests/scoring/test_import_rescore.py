"""CSV imports write in bulk (no ``post_save``), yet what they create or change is rescored: they name the
contacts and accounts they wrote to the scoring outbox, and a dry run or an unchanged row names none."""

import pytest

from accounts.models import Account, Contact
from imports.services import csv_import
from scoring.models import AccountRuleScore, ContactScore, ScoringOutbox
from tests.accounts.factories import AccountFactory, ProductFactory, SalesAgentFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "account,domain,sector,employees\nAcme,acme.com,software,800\nGlobex,globex.com,retail,40\n"
CONTACTS = (
    "email,name,job title,seniority\njane@acme.com,Jane Doe,CFO,C-level\nbob@globex.com,Bob Smith,Engineer,\n"
)


@pytest.fixture
def write(tmp_path):
    def make(text: str):
        path = tmp_path / "file.csv"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return make


def queued() -> tuple[set[int], set[int]]:
    contacts, accounts = set(), set()
    for row in ScoringOutbox.objects.filter(processed_at__isnull=True):
        contacts.update(row.contact_ids)
        accounts.update(row.account_ids)
    return contacts, accounts


def test_imported_accounts_and_contacts_are_scored_after_commit(write, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert csv_import(kind="accounts", path=write(ACCOUNTS)).created == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert csv_import(kind="contacts", path=write(CONTACTS)).created == 2
    accounts = set(Account.objects.values_list("pk", flat=True))
    contacts = set(Contact.objects.values_list("pk", flat=True))
    assert set(AccountRuleScore.objects.values_list("account_id", flat=True)) == accounts
    assert set(ContactScore.objects.values_list("contact_id", flat=True)) == contacts
    assert queued() == (set(), set())  # drained


def test_only_rows_written_are_queued_and_a_dry_run_queues_nothing(write):
    csv_import(kind="accounts", path=write(ACCOUNTS), dry_run=True)
    assert not ScoringOutbox.objects.exists()
    csv_import(kind="accounts", path=write(ACCOUNTS))
    assert queued()[1] == set(Account.objects.values_list("pk", flat=True))
    ScoringOutbox.objects.all().delete()
    csv_import(kind="accounts", path=write(ACCOUNTS))  # unchanged
    assert not ScoringOutbox.objects.exists()
    csv_import(kind="accounts", path=write(ACCOUNTS.replace("retail,40", "retail,4000")))
    assert queued() == (set(), {Account.objects.get(domain="globex.com").pk})


def test_contacts_queue_themselves_and_both_accounts_when_they_move(write):
    acme, globex = (
        AccountFactory(name="Acme", domain="acme.com"),
        AccountFactory(name="Globex", domain="globex.com"),
    )
    csv_import(kind="contacts", path=write(CONTACTS))
    jane, bob = Contact.objects.get(email="jane@acme.com"), Contact.objects.get(email="bob@globex.com")
    assert queued() == ({jane.pk, bob.pk}, {acme.pk, globex.pk})
    ScoringOutbox.objects.all().delete()
    csv_import(kind="contacts", path=write("email,company\njane@acme.com,Globex\n"))
    assert queued() == ({jane.pk}, {acme.pk, globex.pk})


def test_imported_opportunities_queue_their_accounts(write):
    cancity = AccountFactory(name="Cancity", domain="cancity.com")
    ProductFactory(name="GTX Pro", key="gtxpro")
    SalesAgentFactory(name="Moses Frase")
    ScoringOutbox.objects.all().delete()
    text = (
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
        "X1,Moses Frase,GTX Pro,Cancity,Engaging,2017-03-01,,\n"
    )
    report = csv_import(kind="opportunities", path=write(text))
    assert report.created == 1, report.errors
    assert queued() == (set(), {cancity.pk})
