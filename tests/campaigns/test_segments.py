"""Segments as the services keep them: criteria checked and evaluated in one query, membership with its
history, static lists from domains, segments inside segments."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage, OpportunityStage
from accounts.models import AccountActivityDaily
from campaigns.choices import SegmentKind
from campaigns.models import SegmentMembership
from campaigns.segments import (
    criteria_accounts,
    criteria_clean,
    criteria_preview,
    domains_resolve,
    segment_create,
    segment_delete,
    segment_members_as_of,
    segment_refresh,
    segment_update,
    segments_refresh_all,
    static_members_set,
)
from scoring.choices import Band, BuyingStage
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory, TechnologyFactory
from tests.scoring.factories import AccountModelScoreFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def ids(qs):
    return sorted(qs.values_list("pk", flat=True))


@pytest.fixture
def world():
    snow, sales = TechnologyFactory(name="Snowflake"), TechnologyFactory(name="Salesforce")
    a = AccountFactory(name="Alpha", domain="alpha.io", industry="Software", employee_count=900, country="DE")
    b = AccountFactory(name="Beta", domain="beta.io", industry="Fintech", employee_count=120, country="US")
    c = AccountFactory(
        name="Ça Va", domain="xn--ava-zna.fr", industry="Software", employee_count=4000, country="FR"
    )
    a.technologies.set([snow, sales])
    b.technologies.set([snow])
    AccountModelScoreFactory(account=a, stage=BuyingStage.DECISION, fit_band=Band.HIGH, qualified=True)
    AccountModelScoreFactory(account=b, stage=BuyingStage.AWARENESS, fit_band=Band.LOW, qualified=False)
    AccountActivityDaily.objects.create(
        account=a,
        day=TODAY - datetime.timedelta(days=3),
        event_type=EventType.INTENT,
        key="lead scoring",
        count=2,
    )
    AccountActivityDaily.objects.create(
        account=b,
        day=TODAY - datetime.timedelta(days=60),
        event_type=EventType.INTENT,
        key="lead scoring",
        count=5,
    )
    AccountActivityDaily.objects.create(
        account=c, day=TODAY - datetime.timedelta(days=1), event_type=EventType.WEBINAR, key="/w", count=3
    )
    ContactFactory(account=b, lifecycle_stage=LifecycleStage.MQL)
    OpportunityFactory(account=a, stage=OpportunityStage.ENGAGING)
    OpportunityFactory(account=c, stage=OpportunityStage.WON)
    return {"snow": snow, "sales": sales, "a": a, "b": b, "c": c}


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"industry_in": ["Software"]}, "ac"),
        ({"employees_min": ["500"], "employees_max": ["5000"]}, "ac"),
        ({"country": ["DE", "FR"]}, "ac"),
        ({"stage": ["decision", "awareness"]}, "ab"),
        ({"qualified": ["true"]}, "a"),
        ({"fit_band": ["low"]}, "b"),
        ({"intent_topics": ["Lead Scoring"]}, "a"),
        ({"intent_topics": ["lead scoring"], "intent_days": ["90"]}, "ab"),
        ({"event_type": ["webinar"], "event_days": ["7"], "event_min": ["3"]}, "c"),
        ({"event_type": ["webinar"], "event_min": ["4"]}, ""),
        ({"contact_lifecycle": ["mql"]}, "b"),
        ({"deal": ["open"]}, "a"),
        ({"deal": ["customer"]}, "c"),
        ({"deal": ["neither"]}, "b"),
        ({}, "abc"),
    ],
)
def test_each_criterion_selects_what_it_says(world, criteria, expected):
    assert ids(criteria_accounts(criteria)) == sorted(world[k].pk for k in expected)


def test_technology_any_and_all(world):
    snow, sales = world["snow"].pk, world["sales"].pk
    assert ids(criteria_accounts({"technology": [snow, sales]})) == sorted([world["a"].pk, world["b"].pk])
    assert ids(criteria_accounts({"technology_all": [snow, sales]})) == [world["a"].pk]


def test_evaluation_is_one_query_and_the_preview_two(world):
    criteria = {
        "industry_in": ["Software"],
        "stage": ["decision"],
        "intent_topics": ["lead scoring"],
        "deal": ["open"],
    }
    with CaptureQueriesContext(connection) as queries:
        list(criteria_accounts(criteria).values_list("pk", flat=True))
    evaluation = [q for q in queries.captured_queries if "accounts_account" in q["sql"]]
    assert len(evaluation) == 1
    preview = criteria_preview(criteria)
    assert preview.count == 1 and [a.name for a in preview.accounts] == ["Alpha"]


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"colour": ["red"]}, "colour"),
        ({"stage": ["thinking"]}, "stage"),
        ({"employees_min": ["many"]}, "employees_min"),
        ({"intent_days": ["0"]}, "intent_days"),
        ({"technology": ["999999"]}, "technology"),
        ({"stage": [{"nested": 1}]}, "stage"),
    ],
)
def test_bad_criteria_are_refused_naming_the_criterion(world, criteria, field):
    with pytest.raises(ValidationError) as caught:
        criteria_clean(criteria)
    assert field in caught.value.message_dict


def test_criteria_must_be_an_object():
    with pytest.raises(ValidationError):
        criteria_clean(["stage"])


def test_membership_keeps_its_history_and_answers_as_of(world, user_in):
    user = user_in()
    segment = segment_create(actor=user, data={"name": "Deciders", "criteria": {"stage": ["decision"]}})
    assert segment.member_count == 1
    t1 = timezone.now()
    world["b"].model_score.stage = BuyingStage.DECISION
    world["b"].model_score.save()
    world["a"].model_score.stage = BuyingStage.PURCHASE
    world["a"].model_score.save()
    t2 = t1 + datetime.timedelta(minutes=5)
    assert segment_refresh(segment=segment, at=t2) == {"joined": 1, "left": 1, "members": 1}
    before = segment_members_as_of(segment=segment, at=t1 + datetime.timedelta(seconds=1))
    after = segment_members_as_of(segment=segment, at=t2 + datetime.timedelta(seconds=1))
    assert [m.account_id for m in before] == [world["a"].pk]
    assert [m.account_id for m in after] == [world["b"].pk]
    left = SegmentMembership.objects.get(segment=segment, account=world["a"])
    assert left.left_at == t2 and left.version == 1
    # A refresh with nothing changed writes nothing.
    assert segment_refresh(segment=segment) == {"joined": 0, "left": 0, "members": 1}


def test_new_criteria_raise_the_version(world, user_in):
    user = user_in()
    segment = segment_create(actor=user, data={"name": "Software", "criteria": {"industry_in": ["Software"]}})
    segment = segment_update(actor=user, segment=segment, data={"criteria": {"industry_in": ["Fintech"]}})
    assert segment.version == 2
    current = SegmentMembership.objects.get(segment=segment, left_at__isnull=True)
    assert current.account_id == world["b"].pk and current.version == 2


def test_segments_inside_segments_and_no_cycles(world, user_in):
    user = user_in()
    icp = segment_create(actor=user, data={"name": "ICP", "criteria": {"industry_in": ["Software"]}})
    narrow = segment_create(
        actor=user, data={"name": "ICP deciding", "criteria": {"segment": [icp.pk], "stage": ["decision"]}}
    )
    assert narrow.member_count == 1
    outside = segment_create(actor=user, data={"name": "Not ICP", "criteria": {"not_segment": [icp.pk]}})
    assert outside.member_count == 1
    with pytest.raises(ValidationError):
        segment_update(actor=user, segment=icp, data={"criteria": {"segment": [narrow.pk]}})
    with pytest.raises(ValidationError):
        segment_delete(actor=user, segment=icp)
    # Refreshing all goes in dependency order: the ICP first, then those that name it.
    world["b"].industry = "Software"
    world["b"].save()
    world["b"].model_score.stage = BuyingStage.DECISION
    world["b"].model_score.save()
    results = segments_refresh_all()
    assert results[icp.pk]["members"] == 3 and results[narrow.pk]["members"] == 2
    assert list(results) == [icp.pk, narrow.pk, outside.pk]


def test_static_list_from_domains_with_unknown_ones_reported(world, user_in):
    user = user_in()
    found, missing = domains_resolve(["https://www.Alpha.io/about", "ça-va.fr", "nobody.example", ""])
    assert found == sorted([world["a"].pk]) or world["c"].pk in found
    assert "nobody.example" in missing
    segment = segment_create(actor=user, data={"name": "Named", "kind": SegmentKind.STATIC})
    assert static_members_set(actor=user, segment=segment, account_ids=found)["joined"] == len(found)
    assert (
        static_members_set(actor=user, segment=segment, account_ids=[world["b"].pk], mode="add")["joined"]
        == 1
    )
    result = static_members_set(actor=user, segment=segment, account_ids=[world["a"].pk], mode="remove")
    assert result["left"] == 1
    segment.refresh_from_db()
    assert segment.version == 4  # created, then three changes of the list
    assert world["b"].pk in set(
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values_list(
            "account_id", flat=True
        )
    )
    with pytest.raises(ValidationError):
        static_members_set(actor=user, segment=segment, account_ids=[], mode="swap")
