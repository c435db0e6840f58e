"""Routing: territories matched in order, round-robin fairness, set-based routing of ingested newcomers,
audit, and the territories API (revenue operations writes, others read)."""

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from accounts.ingest import events_ingest
from accounts.models import Account, Contact, RoutingCursor, Territory
from accounts.routing import (
    Firmographics,
    accounts_route,
    contacts_route,
    leads_route,
    newcomers_route,
    territory_for,
)
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord, Team
from tests.accounts.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def territory(**kwargs) -> Territory:
    kwargs.setdefault("name", f"T{Territory.objects.count() + 1}")
    return Territory.objects.create(**kwargs)


@pytest.fixture
def sales(user_in):
    """The sales team with two members and a lead (all take turns) and a viewer (does not)."""
    users = [user_in(TeamKind.SALES, role) for role in (Role.MEMBER, Role.LEAD, Role.MEMBER, Role.VIEWER)]
    return Team.objects.get(kind=TeamKind.SALES), users


@pytest.fixture
def bdr(user_in):
    user = user_in(TeamKind.BDR, Role.MEMBER)
    return Team.objects.get(kind=TeamKind.BDR), user


def test_territories_match_in_priority_order_and_on_every_criterion(sales, bdr):
    sales_team, _ = sales
    bdr_team, bdr_user = bdr
    dach_small = territory(
        name="DACH SMB", priority=10, countries=["DE", "AT"], employees_max=200, team=bdr_team
    )
    dach = territory(name="DACH", priority=20, countries=["DE", "AT", "CH"], team=sales_team)
    software = territory(
        name="Software", priority=30, industries=["Software"], team=sales_team, user=bdr_user
    )
    catch_all = territory(name="Rest", priority=99, team=sales_team)
    ordered = list(Territory.objects.all())

    assert territory_for(ordered, Firmographics("DE", "retail", 50)) == dach_small
    assert territory_for(ordered, Firmographics("DE", "retail", 5000)) == dach
    assert territory_for(ordered, Firmographics("DE", "retail", None)) == dach  # unknown size: no range
    assert territory_for(ordered, Firmographics("US", "software", 50)) == software  # case-insensitive
    assert territory_for(ordered, Firmographics("US", "retail", 50)) == catch_all
    catch_all.delete()
    assert territory_for(list(Territory.objects.all()), Firmographics("US", "retail", 50)) is None
    # Priority, not creation order, decides.
    Territory.objects.filter(pk=dach.pk).update(priority=1)
    assert territory_for(list(Territory.objects.all()), Firmographics("DE", "retail", 50)).name == "DACH"


def test_round_robin_takes_turns_fairly_across_calls_and_skips_viewers_and_inactive(sales):
    team, (m1, lead, m2, viewer) = sales
    territory(name="All", team=team)
    accounts = AccountFactory.create_batch(7)

    accounts_route(account_ids=[a.pk for a in accounts[:4]], reason="test")
    accounts_route(account_ids=[a.pk for a in accounts[4:]], reason="test")

    owners = [Account.objects.get(pk=a.pk).owner_id for a in accounts]
    rotation = sorted([m1.pk, lead.pk, m2.pk])
    assert owners == [rotation[i % 3] for i in range(7)]  # the second call continues where the first ended
    assert viewer.pk not in owners
    assert set(Account.objects.values_list("owner_team", flat=True)) == {team.pk}
    assert RoutingCursor.objects.get(team=team).assigned == 7

    m1.is_active = False
    m1.save()
    more = AccountFactory.create_batch(4)
    accounts_route(account_ids=[a.pk for a in more], reason="test")
    assert set(Account.objects.filter(pk__in=[a.pk for a in more]).values_list("owner", flat=True)) == {
        lead.pk,
        m2.pk,
    }


def test_a_territory_user_owns_everything_routed_there_and_owned_rows_are_left_alone(sales, bdr):
    team, _ = sales
    _, bdr_user = bdr
    territory(name="Named", team=team, user=bdr_user, industries=["software"])
    owned = AccountFactory(owner=bdr_user)
    other = AccountFactory(industry="mining")
    fresh = AccountFactory()

    result = accounts_route(account_ids=[owned.pk, other.pk, fresh.pk], reason="test")

    assert result.routed == 1 and result.unrouted == 1
    fresh.refresh_from_db()
    other.refresh_from_db()
    assert (fresh.owner, fresh.owner_team) == (bdr_user, team)
    assert other.owner is None and other.owner_team is None
    # Twice: nothing changes, nothing is audited again.
    records = ChangeRecord.objects.count()
    assert accounts_route(account_ids=[fresh.pk], reason="test").routed == 0
    assert ChangeRecord.objects.count() == records


def test_an_account_with_only_an_owning_team_takes_that_teams_next_member(sales, bdr):
    sales_team, _ = sales
    bdr_team, bdr_user = bdr
    territory(name="All", team=sales_team)
    account = AccountFactory(owner_team=bdr_team)

    accounts_route(account_ids=[account.pk], reason="test")

    account.refresh_from_db()
    assert (account.owner, account.owner_team) == (bdr_user, bdr_team)


def test_contacts_take_their_accounts_owner_else_are_routed_on_the_accounts_firmographics(sales, bdr):
    sales_team, _ = sales
    bdr_team, bdr_user = bdr
    territory(name="German", countries=["DE"], team=bdr_team)
    owned_account = AccountFactory(owner=bdr_user, owner_team=sales_team, country="US")
    at_owned = ContactFactory(account=owned_account)
    german = ContactFactory(account=AccountFactory(country="DE"))
    nowhere = ContactFactory(account=AccountFactory(country="US"))

    result = contacts_route(contact_ids=[at_owned.pk, german.pk, nowhere.pk], reason="test")

    assert result.routed == 2 and result.unrouted == 1
    at_owned.refresh_from_db()
    german.refresh_from_db()
    assert (at_owned.owner, at_owned.owner_team) == (bdr_user, sales_team)
    assert (german.owner, german.owner_team) == (bdr_user, bdr_team)
    assert german.account.owner is None  # contacts_route leaves accounts alone


def test_leads_route_routes_the_account_first_so_the_person_follows_it(sales):
    team, _ = sales
    territory(name="All", team=team)
    contact = ContactFactory()

    leads_route(contact_ids=[contact.pk], reason="accepted")

    contact.refresh_from_db()
    assert contact.owner is not None
    assert (contact.owner_id, contact.owner_team_id) == (
        contact.account.owner_id,
        contact.account.owner_team_id,
    )


def test_routing_is_audited_once_per_batch_with_who_got_what(sales):
    team, _ = sales
    territory(name="All", team=team)
    accounts = AccountFactory.create_batch(5)

    accounts_route(account_ids=[a.pk for a in accounts], reason="imported")

    record = ChangeRecord.objects.get(object_repr__startswith="Routed")
    assert record.object_repr == "Routed 5 accounts (imported)"
    assert record.after["routed"] == 5 and record.after["routing"] == "imported"
    assert sorted(i for a in record.after["assignments"] for i in a["ids"]) == sorted(a.pk for a in accounts)


def test_ingestion_routes_1000_unknown_contacts_set_based_in_few_queries(sales, member):
    team, rotation_users = sales
    territory(name="All", team=team)
    items = [
        {
            "message_id": f"m{i}",
            "type": "page_view",
            "occurred_at": "2025-05-01T10:00:00Z",
            "contact_email": f"person{i}@newco{i % 50}.io",
        }
        for i in range(1000)
    ]
    with CaptureQueriesContext(connection) as routed:
        result = events_ingest(actor=member, items=items)
    assert result.contacts_created == 1000 and result.accounts_created == 50

    Territory.objects.all().delete()
    items2 = [
        {**item, "message_id": f"n{i}", "contact_email": f"x{i}@other{i % 50}.io"}
        for i, item in enumerate(items)
    ]
    with CaptureQueriesContext(connection) as unrouted:
        events_ingest(actor=member, items=items2)

    # Routing costs a fixed handful of queries whatever the batch size (not one per row).
    assert len(routed.captured_queries) - len(unrouted.captured_queries) <= 15
    assert not Contact.objects.filter(email__startswith="person", owner__isnull=True).exists()
    per_owner = Account.objects.filter(domain__startswith="newco").values_list("owner", flat=True)
    counts = {u: list(per_owner).count(u) for u in set(per_owner)}
    assert len(counts) == 3 and max(counts.values()) - min(counts.values()) <= 1  # fair
    # Each contact follows its account.
    assert not Contact.objects.filter(email__startswith="person").exclude(owner=F("account__owner")).exists()
    assert (
        ChangeRecord.objects.filter(object_repr__startswith="Routed 1,000 contacts (ingested)").count() == 1
    )


def territory_reads(queries) -> int:
    return sum(Territory._meta.db_table in q["sql"].split(" WHERE ")[0] for q in queries.captured_queries)


def batch(tag: str, n: int = 20) -> list[dict]:
    return [
        {
            "message_id": f"{tag}{i}",
            "type": "page_view",
            "occurred_at": "2025-05-01T10:00:00Z",
            "contact_email": f"{tag}{i}@{tag}co{i % 4}.io",
        }
        for i in range(n)
    ]


def test_ingestion_reads_the_territories_once_per_batch_and_only_when_a_newcomer_needs_them(sales, member):
    team, _ = sales
    territory(name="All", team=team)
    with CaptureQueriesContext(connection) as queries:
        result = events_ingest(actor=member, items=batch("a"))
    assert result.accounts_created == 4 and result.contacts_created == 20
    assert territory_reads(queries) == 1  # for the new accounts and the new contacts together

    known = [{**item, "message_id": f"again{i}"} for i, item in enumerate(batch("a"))]
    with CaptureQueriesContext(connection) as queries:
        events_ingest(actor=member, items=known)  # no newcomer: nothing to route
    assert territory_reads(queries) == 0


def test_each_batch_routes_by_the_territories_of_its_time(sales, bdr, member):
    sales_team, _ = sales
    bdr_team, bdr_user = bdr
    first = territory(name="Sales", team=sales_team)
    events_ingest(actor=member, items=batch("b"))
    assert set(Account.objects.filter(domain__startswith="bco").values_list("owner_team", flat=True)) == {
        sales_team.pk
    }

    # A change of territories applies to the very next batch: nothing of the last batch's read is kept.
    first.active = False
    first.save()
    territory(name="BDR", team=bdr_team, user=bdr_user)
    events_ingest(actor=member, items=batch("c"))
    owners = set(Account.objects.filter(domain__startswith="cco").values_list("owner", "owner_team"))
    assert owners == {(bdr_user.pk, bdr_team.pk)}
    assert set(Contact.objects.filter(email__startswith="c").values_list("owner", flat=True)) == {bdr_user.pk}


def test_newcomers_route_shares_one_read_between_accounts_and_contacts(sales):
    team, _ = sales
    territory(name="All", team=team)
    account = AccountFactory()
    contact = ContactFactory(account=AccountFactory(owner=None))
    with CaptureQueriesContext(connection) as queries:
        accounts, contacts = newcomers_route(
            account_ids=[account.pk], contact_ids=[contact.pk], reason="ingested"
        )
    assert (accounts.routed, contacts.routed) == (1, 1)
    assert territory_reads(queries) == 1


# --- the API -------------------------------------------------------------------------------------------
def test_territories_api_revops_admins_write_others_read(client_for, revops_admin, viewer, sales):
    team, _ = sales
    payload = {"name": "EMEA", "priority": 5, "countries": ["de", "FR"], "industries": ["Software"],
               "employees_min": 10, "employees_max": 500, "team": team.pk}  # fmt: skip

    response = client_for(revops_admin).post("/api/territories/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["countries"] == ["DE", "FR"]
    assert ChangeRecord.objects.filter(object_repr="EMEA", action="create").exists()

    assert client_for(viewer).get("/api/territories/").json()["results"][0]["name"] == "EMEA"
    assert (
        client_for(viewer).post("/api/territories/", {**payload, "name": "X"}, format="json").status_code
        == 403
    )
    member = sales[1][0]
    assert (
        client_for(member).post("/api/territories/", {**payload, "name": "X"}, format="json").status_code
        == 403
    )


def test_territories_api_refuses_bad_input_and_writes_nothing(client_for, revops_admin, sales, bdr):
    team, _ = sales
    _, bdr_user = bdr
    client = client_for(revops_admin)
    bad = [
        ({"countries": ["XX"]}, "countries"),
        ({"employees_min": 500, "employees_max": 10}, "employees_max"),
        ({"user": bdr_user.pk}, "user"),  # not in the team
        ({"team": 99999}, "team"),
    ]
    for extra, field in bad:
        response = client.post("/api/territories/", {"name": "Bad", "team": team.pk, **extra}, format="json")
        assert response.status_code == 400 and field in response.json(), response.json()
    assert not Territory.objects.exists()
