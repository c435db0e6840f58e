"""The demo world has owners: every account and contact belongs to a sales or BDR/SDR demo person and
a team (enterprise accounts to sales), and two territories route what arrives later the same way."""

import io

import pytest
from django.core.management import call_command
from django.db.models import F

from accounts.models import Account, Contact, Territory
from accounts.routing import accounts_route
from revops.choices import TeamKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    call_command("seed_demo", accounts=120, seed=5, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())


def test_every_demo_account_and_contact_has_an_owner_and_a_team(world):
    assert not Account.objects.filter(owner__isnull=True).exists()
    assert not Account.objects.filter(owner_team__isnull=True).exists()
    assert not Contact.objects.filter(owner__isnull=True).exists()
    owners = set(Account.objects.values_list("owner__username", flat=True))
    assert owners == {"sales", "sales2", "bdr", "bdr2"}
    # Enterprise accounts belong to sales, the rest to BDR/SDR; each person owns some.
    enterprise = Account.objects.filter(employee_count__gte=1000)
    assert set(enterprise.values_list("owner_team__kind", flat=True)) == {TeamKind.SALES}
    assert set(Account.objects.exclude(pk__in=enterprise).values_list("owner_team__kind", flat=True)) == {
        TeamKind.BDR
    }
    # People at an account follow its owner.
    at_accounts = Contact.objects.filter(account__isnull=False)
    assert not at_accounts.exclude(owner=F("account__owner")).exists()
    # The owners are the demo users (demo_users later gives them their password).
    call_command("demo_users", force=True, stdout=io.StringIO())
    assert Account.objects.filter(owner__username="sales").first().owner.has_usable_password()


def test_the_demo_territories_route_new_accounts_like_the_demo_owners(world):
    assert list(Territory.objects.values_list("name", flat=True)) == [
        "Enterprise (1,000+ employees)",
        "Everyone else",
    ]
    big = Account.objects.create(name="Big new", domain="bignew.example", employee_count=5000)
    small = Account.objects.create(name="Small new", domain="smallnew.example", employee_count=20)
    accounts_route(account_ids=[big.pk, small.pk], reason="test")
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.owner_team.kind, small.owner_team.kind) == (TeamKind.SALES, TeamKind.BDR)
    assert big.owner.username in {"sales", "sales2"} and small.owner.username in {"bdr", "bdr2"}
