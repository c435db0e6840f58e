"""POST /api/events/batch/ ties events without a campaign_id to the campaign of a key they carry."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import AccountActivityDaily, EngagementEvent
from campaigns.services import campaign_update
from revops import services
from revops.services import object_delete
from tests.accounts.factories import CampaignFactory

pytestmark = pytest.mark.django_db

URL = "/api/events/batch/"
WHEN = "2025-05-01T10:00:00Z"


def event(n: int, **fields) -> dict:
    data = {"message_id": f"evt-{n}", "type": "page_view", "occurred_at": WHEN, "account_domain": "acme.com"}
    data.update(fields)
    return data


@pytest.fixture
def ingest(member):
    _, key = services.api_token_create(actor=None, user=member, name="feed", scopes=["ingest"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def campaign_with(member):
    """``campaign_with(kind=value, …)`` → a campaign with those keys, set through the campaigns service."""

    def make(**keys):
        campaign = CampaignFactory()
        keys = [{"kind": kind, "value": value} for kind, value in keys.items()]
        return campaign_update(actor=member, campaign=campaign, data={}, keys=keys)

    return make


def post(client, *events: dict) -> dict:
    response = client.post(URL, {"events": list(events)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def campaigns() -> dict[str, int | None]:
    return dict(EngagementEvent.objects.values_list("message_id", "campaign_id"))


def key_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "campaigns_campaignkey" in q["sql"]]


def test_utm_campaign_in_the_url(ingest, campaign_with):
    spring = campaign_with(utm_campaign="spring-launch")
    post(
        ingest,
        event(1, url="https://example.com/pricing?utm_source=linkedin&utm_campaign=spring-launch"),
        event(2, url="/pricing?utm_campaign=spring-launch#utm_campaign=other"),
        event(3, url="/pricing?utm_campaign="),
        event(4, url="/pricing?xutm_campaign=spring-launch&utm_campaign=&utm_campaign=spring-launch"),
        event(5, url="/pricing?not_utm_campaign=spring-launch"),
    )
    assert campaigns() == {
        "evt-1": spring.pk,
        "evt-2": spring.pk,
        "evt-3": None,
        "evt-4": spring.pk,
        "evt-5": None,
    }


def test_url_value_is_decoded(ingest, campaign_with):
    summit = campaign_with(utm_campaign="ABM Summit 2025")
    post(
        ingest,
        event(1, url="/events?utm_campaign=ABM%20Summit%202025"),
        event(2, url="/events?utm_campaign=abm+summit+2025"),
    )
    assert campaigns() == {"evt-1": summit.pk, "evt-2": summit.pk}


def test_utm_campaign_in_properties(ingest, campaign_with):
    spring = campaign_with(utm_campaign="spring-launch")
    post(ingest, event(1, type="form_fill", properties={"form": "demo", "utm_campaign": "spring-launch"}))
    assert campaigns() == {"evt-1": spring.pk}


def test_email_id_as_string_or_number(ingest, campaign_with):
    newsletter = campaign_with(email_id="48213")
    post(
        ingest,
        event(1, type="email_open", properties={"email_id": 48213}),
        event(2, type="email_click", properties={"email_id": "48213"}),
        event(3, type="email_click", properties={"email_id": 48213.0}),
    )
    assert campaigns() == {"evt-1": newsletter.pk, "evt-2": newsletter.pk, "evt-3": newsletter.pk}


def test_ad_id(ingest, campaign_with):
    retargeting = campaign_with(ad_id="LI-778")
    post(ingest, event(1, type="ad_click", properties={"ad_id": "LI-778"}))
    assert campaigns() == {"evt-1": retargeting.pk}


def test_explicit_campaign_id_wins_over_keys(ingest, campaign_with):
    campaign_with(utm_campaign="spring-launch", email_id="1")
    explicit = CampaignFactory()
    post(
        ingest,
        event(
            1,
            campaign_id=explicit.pk,
            url="/?utm_campaign=spring-launch",
            properties={"email_id": 1, "utm_campaign": "spring-launch"},
        ),
    )
    assert campaigns() == {"evt-1": explicit.pk}


def test_the_most_specific_known_key_wins(ingest, campaign_with):
    by_email = campaign_with(email_id="7")
    by_utm = campaign_with(utm_campaign="spring-launch")
    post(
        ingest,
        event(1, url="/?utm_campaign=spring-launch", properties={"email_id": 7}),
        event(2, url="/?utm_campaign=spring-launch", properties={"email_id": 999}),  # unknown: next key
    )
    assert campaigns() == {"evt-1": by_email.pk, "evt-2": by_utm.pk}


def test_unknown_keys_are_no_error(ingest, campaign_with):
    campaign_with(utm_campaign="spring-launch", email_id="7")
    result = post(
        ingest,
        event(1, url="/?utm_campaign=autumn"),
        event(2, properties={"email_id": 8, "ad_id": "nope"}),
        event(3, properties={"utm_campaign": ["spring-launch"], "email_id": True}),  # not a key's type
        event(4, properties={"email_id": "7" * 201}),  # longer than any key
        event(5, url="/?utm_campaign=%00"),
    )
    assert result["created"] == 5
    assert campaigns() == {f"evt-{n}": None for n in range(1, 6)}


def test_kinds_do_not_mix(ingest, campaign_with):
    campaign_with(ad_id="123")
    post(ingest, event(1, properties={"email_id": 123}))
    assert campaigns() == {"evt-1": None}


def test_keys_are_case_insensitive(ingest, campaign_with):
    spring = campaign_with(utm_campaign="Spring-Launch", ad_id="LI-778")  # stored lower-case
    post(
        ingest,
        event(1, url="/?utm_campaign=SPRING-LAUNCH"),
        event(2, properties={"utm_campaign": "  spring-LAUNCH "}),
        event(3, properties={"ad_id": "li-778"}),
    )
    assert campaigns() == {"evt-1": spring.pk, "evt-2": spring.pk, "evt-3": spring.pk}


def test_mixed_batch_resolves_keys_in_one_query(ingest, campaign_with):
    spring = campaign_with(utm_campaign="spring-launch")
    newsletter = campaign_with(email_id="48213")
    explicit = CampaignFactory()
    events = [
        event(1, url="/pricing"),
        event(2, url="/pricing?utm_campaign=spring-launch"),
        event(3, properties={"email_id": 48213}),
        event(4, properties={"ad_id": "unknown"}),
        event(5, campaign_id=explicit.pk, properties={"email_id": 48213}),
        *[event(n, url=f"/blog/{n}?utm_campaign=spring-launch") for n in range(6, 200)],
    ]
    with CaptureQueriesContext(connection) as captured:
        result = post(ingest, *events)

    assert result["created"] == 199
    assert len(key_queries(captured)) == 1
    stored = campaigns()
    assert (stored["evt-1"], stored["evt-2"], stored["evt-3"]) == (None, spring.pk, newsletter.pk)
    assert (stored["evt-4"], stored["evt-5"]) == (None, explicit.pk)
    assert EngagementEvent.objects.filter(campaign=spring).count() == 195
    assert sum(AccountActivityDaily.objects.values_list("count", flat=True)) == 199


def test_no_key_query_when_no_event_carries_a_key(ingest, campaign_with):
    campaign_with(utm_campaign="spring-launch")
    explicit = CampaignFactory()
    with CaptureQueriesContext(connection) as captured:
        post(
            ingest,
            event(1, url="/pricing?utm_source=linkedin", properties={"referrer": "google"}),
            event(2, campaign_id=explicit.pk, url="/?utm_campaign=spring-launch"),  # explicit: not looked up
        )
    assert key_queries(captured) == []
    assert campaigns() == {"evt-1": None, "evt-2": explicit.pk}


def test_replay_is_idempotent(ingest, campaign_with):
    spring = campaign_with(utm_campaign="spring-launch")
    events = [event(n, url="/pricing?utm_campaign=spring-launch") for n in range(5)]
    assert post(ingest, *events)["created"] == 5

    replay = post(ingest, *events)

    assert (replay["created"], replay["duplicates"]) == (0, 5)
    assert EngagementEvent.objects.filter(campaign=spring).count() == 5
    assert AccountActivityDaily.objects.get().count == 5


def test_key_of_a_deleted_campaign_ties_nothing(ingest, campaign_with, member):
    gone = campaign_with(utm_campaign="spring-launch", email_id="7")
    post(ingest, event(1, url="/?utm_campaign=spring-launch"))
    object_delete(instance=gone, actor=member)

    result = post(ingest, event(2, url="/?utm_campaign=spring-launch"), event(3, properties={"email_id": 7}))

    assert result["created"] == 2
    assert campaigns() == {"evt-1": None, "evt-2": None, "evt-3": None}  # evt-1's campaign went too
