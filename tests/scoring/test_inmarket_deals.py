"""The in-market list separates net-new accounts (the default) from open deals and customers, with
counts, and filters by owner, industry, size, segment and stage — the page and the API alike."""

import pytest
from django.urls import reverse

from accounts.choices import OpportunityStage
from campaigns.filtersets import InMarketSegmentFilterSet
from revops.choices import Role, TeamKind
from revops.models import Team
from scoring.choices import BuyingStage
from tests.accounts.factories import AccountFactory, OpportunityFactory
from tests.scoring.factories import AccountModelScoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(user_in):
    seller = user_in(TeamKind.SALES, Role.MEMBER)
    sales = Team.objects.get(kind=TeamKind.SALES)
    accounts = {
        "NetNew Soft": AccountFactory(
            name="NetNew Soft", industry="Software", employee_count=50, owner=seller, owner_team=sales
        ),
        "NetNew Bank": AccountFactory(name="NetNew Bank", industry="Banking", employee_count=5000),
        "Open Deal": AccountFactory(name="Open Deal", industry="Software", employee_count=300),
        "Customer": AccountFactory(name="Customer", industry="Software", employee_count=300),
    }  # fmt: skip
    OpportunityFactory(account=accounts["Open Deal"], stage=OpportunityStage.ENGAGING)
    OpportunityFactory(account=accounts["Customer"], stage=OpportunityStage.WON)
    stages = {"NetNew Soft": BuyingStage.DECISION, "NetNew Bank": BuyingStage.AWARENESS}
    for i, (name, account) in enumerate(accounts.items()):
        AccountModelScoreFactory(
            account=account, in_market=0.9 - i / 10, stage=stages.get(name, BuyingStage.PURCHASE)
        )
    return {"seller": seller, "sales": sales, **accounts}


def names(response):
    return [score.account.name for score in response.context["object_list"]]


def test_the_page_shows_net_new_by_default_with_tab_counts(client, viewer, world):
    client.force_login(viewer)
    response = client.get(reverse("scoring:inmarket_list"))
    assert names(response) == ["NetNew Soft", "NetNew Bank"]
    tabs = {t["key"]: (t["count"], t["active"]) for t in response.context["deal_tabs"]}
    assert tabs == {"net_new": (2, True), "open_or_customer": (2, False), "any": (4, False)}
    html = response.content.decode()
    assert 'id="deal-tabs"' in html and "Open deal / customer" in html
    other = client.get(reverse("scoring:inmarket_list"), {"deal": ["open", "customer"]})
    assert names(other) == ["Open Deal", "Customer"]
    assert [t["key"] for t in other.context["deal_tabs"] if t["active"]] == ["open_or_customer"]
    assert names(client.get(reverse("scoring:inmarket_list"), {"deal": "any"})) == [
        "NetNew Soft", "NetNew Bank", "Open Deal", "Customer",
    ]  # fmt: skip


def test_tab_counts_follow_the_other_filters(client, viewer, world):
    client.force_login(viewer)
    response = client.get(reverse("scoring:inmarket_list"), {"industry": "software"})
    assert names(response) == ["NetNew Soft"]
    assert {t["key"]: t["count"] for t in response.context["deal_tabs"]} == {
        "net_new": 1, "open_or_customer": 2, "any": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"industry": "banking"}, ["NetNew Bank"]),
        ({"employees_min": "1000"}, ["NetNew Bank"]),
        ({"employees_max": "100"}, ["NetNew Soft"]),
        ({"stage": "awareness"}, ["NetNew Bank"]),
        ({"deal": "any", "stage": "purchase"}, ["Open Deal", "Customer"]),
    ],
)
def test_the_page_filters_by_industry_size_and_stage(client, viewer, world, query, expected):
    client.force_login(viewer)
    assert names(client.get(reverse("scoring:inmarket_list"), query)) == expected


def test_the_page_and_api_filter_by_owner_and_owning_team(client, client_for, viewer, world):
    client.force_login(viewer)
    assert names(client.get(reverse("scoring:inmarket_list"), {"owner": world["seller"].pk})) == [
        "NetNew Soft"
    ]
    api = client_for(viewer)
    by_team = api.get("/api/account-scores/", {"owner_team": world["sales"].pk}).json()["results"]
    assert [r["account"] for r in by_team] == [world["NetNew Soft"].pk]
    # The API keeps every account unless asked: deal filters like the accounts list's.
    assert len(api.get("/api/account-scores/").json()["results"]) == 4
    net_new = api.get("/api/account-scores/", {"deal": "neither"}).json()["results"]
    assert sorted(r["account"] for r in net_new) == sorted([world["NetNew Soft"].pk, world["NetNew Bank"].pk])
    assert api.get("/api/account-scores/", {"deal": "maybe"}).status_code == 400


def test_the_page_filters_by_segment(client, viewer, world):
    assert "segment" in InMarketSegmentFilterSet.base_filters
    client.force_login(viewer)
    html = client.get(reverse("scoring:inmarket_list")).content.decode()
    assert 'name="segment"' in html and 'name="owner"' in html and 'name="industry"' in html
