"""Scoring calls the accounts' routing: a lead accepted by sales gets an owner (its account's, else by
territory), and accounts that become qualified without an owner get one before anyone is told."""

import pytest

from accounts.choices import LifecycleStage
from accounts.models import Account, Contact, Territory
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord, Team
from scoring import lifecycle
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.factories import stub_notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(user_in):
    return user_in(TeamKind.SALES, Role.MEMBER)


def test_an_accepted_lead_without_an_owner_is_routed_with_its_account(seller, user_in, monkeypatch):
    stub_notify(monkeypatch)
    bdr = user_in(TeamKind.BDR, Role.MEMBER)
    Territory.objects.create(name="DE", countries=["DE"], team=Team.objects.get(kind=TeamKind.BDR))
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL, account=AccountFactory(country="DE"))

    lifecycle.contact_accept(contact=contact, user=seller)

    stored = Contact.objects.select_related("account").get(pk=contact.pk)
    assert (stored.owner, stored.owner_team.kind) == (bdr, TeamKind.BDR)
    assert (stored.account.owner, stored.account.owner_team.kind) == (bdr, TeamKind.BDR)
    assert contact.owner_id == bdr.pk  # the caller's instance says so too
    assert set(
        ChangeRecord.objects.filter(object_repr__startswith="Routed").values_list("object_repr", flat=True)
    ) == {
        "Routed 1 account (accepted)",
        "Routed 1 contact (accepted)",
    }


def test_an_accepted_lead_at_an_owned_account_takes_the_accounts_owner(seller, monkeypatch):
    stub_notify(monkeypatch)
    sales = Team.objects.get(kind=TeamKind.SALES)
    contact = ContactFactory(
        lifecycle_stage=LifecycleStage.MQL, account=AccountFactory(owner=seller, owner_team=sales)
    )

    lifecycle.contact_accept(contact=contact, user=seller)

    assert Contact.objects.filter(pk=contact.pk, owner=seller, owner_team=sales).exists()


def test_an_accepted_lead_with_an_owner_keeps_it(seller, user_in, monkeypatch):
    stub_notify(monkeypatch)
    other = user_in(TeamKind.SALES, Role.MEMBER)
    Territory.objects.create(name="All", team=Team.objects.get(kind=TeamKind.SALES), user=seller)
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL, owner=other)

    lifecycle.contact_accept(contact=contact, user=seller)

    assert Contact.objects.get(pk=contact.pk).owner == other
    assert Account.objects.get(pk=contact.account_id).owner is None  # the person had an owner: nothing routed
