"""The campaign web pages: permissions, the CampaignFilterSet, what each campaign produced."""

import datetime

import pytest
from django.urls import reverse

from accounts.choices import CampaignGoal, OpportunityStage
from tests.accounts.factories import (
    AccountFactory,
    CampaignFactory,
    ChannelFactory,
    EngagementEventFactory,
    OpportunityFactory,
)

TODAY = datetime.date.today()


@pytest.fixture
def campaigns(db):
    inbound = ChannelFactory(slug="inbound")
    events = ChannelFactory(slug="events")
    webinar = CampaignFactory(
        name="Predictive pipeline webinar",
        channel=inbound,
        goal=CampaignGoal.PIPELINE,
        cost=12_000,
        start_date=TODAY - datetime.timedelta(days=30),
        end_date=TODAY + datetime.timedelta(days=30),
    )
    dinner = CampaignFactory(
        name="Health tech dinner",
        channel=events,
        goal=CampaignGoal.NEW_INDUSTRY,
        cost=30_000,
        start_date=TODAY - datetime.timedelta(days=400),
        end_date=TODAY - datetime.timedelta(days=380),
    )
    account = AccountFactory(name="Acme Analytics")
    EngagementEventFactory.create_batch(3, account=account, campaign=webinar)
    EngagementEventFactory(account=account, campaign=dinner)
    OpportunityFactory(account=account, name="Webinar deal", source_campaign=webinar, amount=40_000)
    OpportunityFactory(
        account=account,
        name="Webinar win",
        source_campaign=webinar,
        amount=20_000,
        stage=OpportunityStage.WON,
    )
    return {"webinar": webinar, "dinner": dinner, "inbound": inbound, "events": events}


def test_campaign_pages_for_viewer_outsider_and_anonymous(client, viewer, outsider, campaigns):
    urls = [
        reverse("campaigns:campaign_list"),
        reverse("campaigns:campaign_detail", kwargs={"pk": campaigns["webinar"].pk}),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/?next="), url
    client.force_login(outsider)
    for url in urls:
        assert client.get(url).status_code == 403, url
    client.force_login(viewer)
    for url in urls:
        assert client.get(url).status_code == 200, url


def _names(response) -> list[str]:
    return [c.name for c in response.context["object_list"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Predictive pipeline webinar", "Health tech dinner"]),
        ({"channel": "events"}, ["Health tech dinner"]),
        ({"goal": [CampaignGoal.PIPELINE]}, ["Predictive pipeline webinar"]),
        ({"q": "dinner"}, ["Health tech dinner"]),
        ({"active_on": str(TODAY)}, ["Predictive pipeline webinar"]),
        ({"sort": "-cost"}, ["Health tech dinner", "Predictive pipeline webinar"]),
    ],
)
def test_campaign_list_filters_with_the_campaign_filterset(client, viewer, campaigns, params, expected):
    client.force_login(viewer)
    assert _names(client.get(reverse("campaigns:campaign_list"), params)) == expected


def test_campaign_list_shows_what_each_campaign_produced(
    client, viewer, campaigns, django_assert_max_num_queries
):
    client.force_login(viewer)
    for i in range(15):
        CampaignFactory(channel=campaigns["inbound"], start_date=TODAY - datetime.timedelta(days=i))
    # session, user, 2 x permissions, memberships, channels (filter form), rows, events, opportunity stats
    with django_assert_max_num_queries(10):  # 9 + the notification bell
        response = client.get(reverse("campaigns:campaign_list"))
    rows = {c.name: c for c in response.context["object_list"]}
    webinar = rows["Predictive pipeline webinar"]
    assert webinar.event_count == 3
    assert webinar.opportunity_stats["n"] == 2
    assert webinar.opportunity_stats["pipeline"] == 60_000
    assert rows["Health tech dinner"].event_count == 1
    assert rows["Health tech dinner"].opportunity_stats["n"] == 0
    # The channel filter is a drop-down of the channels, still filtering by slug.
    assert b'<option value="events">' in response.content


def test_campaign_detail_shows_results(client, viewer, campaigns):
    client.force_login(viewer)
    response = client.get(reverse("campaigns:campaign_detail", kwargs={"pk": campaigns["webinar"].pk}))
    assert response.context["event_count"] == 3
    stats = response.context["stats"]
    assert stats["n"] == 2 and stats["won"] == 1 and stats["open_pipeline"] == 40_000
    assert response.context["cost_per_opportunity"] == 6_000
    html = response.content.decode()
    assert "Webinar deal" in html and "Webinar win" in html
    assert "Pipeline creation" in html and "$12,000" in html
