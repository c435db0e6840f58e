"""The sales metrics page and /api/sales-metrics/: each figure is the one definition every other page
shows (the contacts list, the in-market list), on the page and in the API alike."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Contact
from revops.choices import Role, TeamKind
from scoring.choices import BuyingStage
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.factories import AccountModelScoreFactory, AccountRuleScoreFactory, starter_ruleset

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    starter_ruleset()
    for engagement, qualified, stage in ((10, True, BuyingStage.DECISION), (30, False, BuyingStage.AWARENESS),
                                         (0, True, BuyingStage.PURCHASE)):  # fmt: skip
        account = AccountFactory()
        AccountRuleScoreFactory(account=account, engagement=engagement)
        AccountModelScoreFactory(account=account, qualified=qualified, stage=stage)
    for stage in (LifecycleStage.MQL, LifecycleStage.MQL, LifecycleStage.SQL, LifecycleStage.LEAD):
        contact = ContactFactory()
        Contact.objects.filter(pk=contact.pk).update(lifecycle_stage=stage)


def number(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}"[^>]*>([\d,]+)<', html)
    assert match, element_id
    return int(match[1].replace(",", ""))


def test_the_page_the_api_and_the_lists_show_the_same_figures(world, user_in, client):
    ops = user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)
    client.force_login(ops)
    page = client.get(reverse("plans:sales_metrics"))
    assert page.status_code == 200
    html = page.content.decode()
    mql_list = client.get(reverse("accounts:contact_list"), {"lifecycle_stage": "mql", "per_page": 100})
    assert number(html, "metric-current-mql") == len(mql_list.context["object_list"]) == 2
    in_market = client.get(reverse("scoring:inmarket_list"), {"qualified": "true", "per_page": 100})
    assert number(html, "metric-in-market") == len(in_market.context["object_list"]) == 2
    client.force_login(ops)
    api = client.get("/api/sales-metrics/").json()
    assert api["accounts_in_market"] == 2 and api["currently"]["mql"] == 2
    assert api["account_engagement"] == {"accounts": 3, "engaged": 2, "average": 13.33, "median": 10.0}
    assert [s["stage"] for s in api["conversion"]["stages"]] == [
        "mql",
        "sal",
        "sql",
        "opportunity",
        "customer",
    ]
    since, until = (datetime.date.fromisoformat(api[k]) for k in ("since", "until"))
    assert (until - since).days == 89 and until == timezone.localdate()  # the last 90 days by default
    months = (until.year - since.year) * 12 + until.month - since.month + 1
    assert [row["month"] for row in api["deal_velocity"]][-1] == until.isoformat()[:7]
    assert len(api["deal_velocity"]) == months
    today = timezone.localdate()
    year = client.get("/api/sales-metrics/", {"since": (today - datetime.timedelta(days=364)).isoformat()})
    assert len(year.json()["deal_velocity"]) in (12, 13)


def test_bad_windows_are_refused_and_viewers_without_scores_are_not_let_in(world, user_in, client):
    ops = user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)
    client.force_login(ops)
    assert client.get("/api/sales-metrics/", {"since": "2026-13-01"}).status_code == 400
    assert (
        client.get("/api/sales-metrics/", {"since": "2026-06-01", "until": "2026-01-01"}).status_code == 400
    )
    assert client.get("/api/sales-metrics/", {"foo": "1"}).status_code == 400
    page = client.get(reverse("plans:sales_metrics"), {"since": "nonsense"})
    assert page.status_code == 200 and "Dates as YYYY-MM-DD" in page.content.decode()
    client.logout()
    assert client.get("/api/sales-metrics/").status_code in (401, 403)
