"""CSV imports take owners (by e-mail or username) and owning teams (by name); an unknown owner is a
clear row error that writes nothing; rows without one are routed by territory, one audit per batch."""

import pytest

from accounts.models import Account, Contact, Territory
from imports.services import csv_import
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord, Team
from tests.accounts.factories import AccountFactory
from tests.revops.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def write(tmp_path):
    counter = iter(range(1000))

    def make(content):
        path = tmp_path / f"file{next(counter)}.csv"
        path.write_text(content, encoding="utf-8")
        return path

    return make


@pytest.fixture
def people(user_in):
    ann = user_in(TeamKind.SALES, Role.MEMBER, username="ann", email="Ann.Seller@example.com")
    bob = user_in(TeamKind.BDR, Role.MEMBER, username="bob", email="bob@example.com")
    return {"ann": ann, "bob": bob, "sales": Team.objects.get(kind=TeamKind.SALES)}


def test_accounts_take_owner_by_email_or_username_and_team_by_name(write, people, member):
    path = write(
        "Name,Domain,Account Owner,Owning team\n"
        "Acme,acme.com,ann.seller@EXAMPLE.com,Sales\n"
        "Beta,beta.com,bob,\n"
        "Gamma,gamma.com,,sales\n"
    )
    report = csv_import(kind="accounts", path=path, actor=member)
    assert not report.errors, report.errors
    owners = {a.domain: (a.owner, a.owner_team) for a in Account.objects.all()}
    assert owners["acme.com"] == (people["ann"], people["sales"])
    assert owners["beta.com"] == (people["bob"], None)
    assert owners["gamma.com"][1] == people["sales"]


def test_an_unknown_owner_or_team_is_a_row_error_and_nothing_is_written(write, people, member):
    inactive = UserFactory(username="gone", is_active=False)
    path = write(
        "Name,Domain,Owner,Team\n"
        "Acme,acme.com,nobody@example.com,\n"
        "Beta,beta.com,ann,Nonexistent\n"
        "Gamma,gamma.com,bob,Sales\n"
        f"Delta,delta.com,{inactive.username},\n"
    )
    report = csv_import(kind="accounts", path=path, actor=member)
    errors = {(e["row"], e["column"]): e["reason"] for e in report.errors}
    assert "unknown owner 'nobody@example.com'" in errors[(2, "Owner")]
    assert "no active user has this e-mail or username" in errors[(2, "Owner")]
    assert "unknown team 'Nonexistent'" in errors[(3, "Team")]
    assert "is not a member of the team 'Sales'" in errors[(4, "Owner")]
    assert "unknown owner 'gone'" in errors[(5, "Owner")]
    assert not Account.objects.exists()


def test_an_update_sets_the_owner_and_a_blank_cell_keeps_it(write, people, member):
    account = AccountFactory(domain="acme.com", owner=people["bob"])
    csv_import(kind="accounts", path=write("Name,Domain,Owner\nAcme,acme.com,\n"), actor=member)
    assert Account.objects.get(pk=account.pk).owner == people["bob"]
    csv_import(kind="accounts", path=write("Name,Domain,Owner\nAcme,acme.com,ann\n"), actor=member)
    assert Account.objects.get(pk=account.pk).owner == people["ann"]


def test_new_rows_without_an_owner_are_routed_and_audited_once(write, people, member):
    Territory.objects.create(name="German", countries=["DE"], team=people["sales"])
    path = write(
        "Name,Domain,Country\n"
        + "".join(f"Firm {i},firm{i}.de,Germany\n" for i in range(30))
        + "US Co,us.com,US\n"
    )
    report = csv_import(kind="accounts", path=path, actor=member)
    assert not report.errors
    german = Account.objects.filter(country="DE")
    assert german.count() == 30 and set(german.values_list("owner", flat=True)) == {people["ann"].pk}
    assert Account.objects.get(domain="us.com").owner is None
    records = ChangeRecord.objects.filter(object_repr__startswith="Routed")
    assert list(records.values_list("object_repr", flat=True)) == ["Routed 30 accounts (imported)"]


def test_contacts_take_owners_and_new_people_at_new_companies_are_routed(write, people, member):
    Territory.objects.create(name="All", team=people["sales"])
    path = write(
        "Email,Company,Owner,Owning team\n"
        "a@acme.com,Acme,bob,BDR/SDR\n"
        "b@newco.io,Newco,,\n"
        "c@newco.io,Newco,,\n"
    )
    report = csv_import(kind="contacts", path=path, actor=member)
    assert not report.errors, report.errors
    a, b, c = (Contact.objects.get(email=e) for e in ("a@acme.com", "b@newco.io", "c@newco.io"))
    assert (a.owner, a.owner_team.kind) == (people["bob"], TeamKind.BDR)
    newco = Account.objects.get(domain="newco.io")
    assert newco.owner == people["ann"] and (b.owner, c.owner) == (people["ann"], people["ann"])
    bad = csv_import(kind="contacts", path=write("Email,Owner\nd@acme.com,mallory\n"), actor=member)
    assert bad.errors[0]["column"] == "Owner" and "unknown owner 'mallory'" in bad.errors[0]["reason"]
    assert not Contact.objects.filter(email="d@acme.com").exists()
