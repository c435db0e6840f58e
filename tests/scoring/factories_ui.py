"""Factories for the scoring web pages' tests: versions, rules, scores, transitions, what-if runs.

(``tests/scoring/factories.py`` belongs to the services' tests; these only build rows for pages.)
"""

import datetime
import importlib

import factory
from django.apps import apps as django_apps
from django.db.models import Max
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage
from scoring.models import (
    AccountRuleScore,
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    Rule,
    RuleKind,
    Ruleset,
    RulesetStatus,
    WhatIfRun,
)
from tests.accounts.factories import AccountFactory, ContactFactory


def starter_ruleset() -> Ruleset:
    """The published starter version (v1) that migration 0003 ships, re-created if a transactional
    test flushed it (live-server tests)."""
    published = Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()
    if published is None:
        importlib.import_module("scoring.migrations.0003_starter_ruleset").create(django_apps, None)
        published = Ruleset.objects.get(status=RulesetStatus.PUBLISHED)
    return published


def _next_number() -> int:
    # The starter version (v1) comes from a migration; new versions take the next free number.
    return (Ruleset.objects.aggregate(n=Max("number"))["n"] or 0) + 1


class RulesetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ruleset

    number = factory.LazyFunction(_next_number)
    name = factory.Sequence(lambda n: f"Rules {n}")
    status = RulesetStatus.DRAFT
    required_fields = ["email", "account"]
    fast_track_event_types = [EventType.DEMO_REQUEST.value]
    sql_checklist = ["Conversation held", "Budget confirmed"]


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    ruleset = factory.SubFactory(RulesetFactory)
    position = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = RuleKind.ENGAGEMENT
    event_type = EventType.PAGE_VIEW
    url_pattern = r"^/pricing"
    points = 10
    repeatable = True
    cap = 30
    half_life_days = 14
    window_days = 90


class FitRuleFactory(RuleFactory):
    kind = RuleKind.FIT
    field = "seniority"
    operator = "in"
    value = ["vp", "director"]
    event_type = ""
    url_pattern = ""
    repeatable = False
    cap = None
    half_life_days = None
    window_days = None


class _UpsertFactory(factory.django.DjangoModelFactory):
    """Creating a contact or an account may already score it (signals): overwrite that row."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        key = "contact" if "contact" in kwargs else "account"
        obj, _ = model_class.objects.update_or_create(**{key: kwargs.pop(key)}, defaults=kwargs)
        return obj


class ContactScoreFactory(_UpsertFactory):
    class Meta:
        model = ContactScore

    contact = factory.SubFactory(ContactFactory)
    ruleset = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    fit = 25
    engagement = 40
    fit_grade = "B"
    engagement_grade = "2"
    explanation = factory.LazyFunction(lambda: [[None, "Decision-maker seniority", 15.0]])
    scored_at = factory.LazyFunction(timezone.now)


class ContactScoreHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactScoreHistory

    contact = factory.SubFactory(ContactFactory)
    ruleset = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    as_of = factory.LazyFunction(lambda: timezone.now().date())
    scored_at = factory.LazyFunction(timezone.now)
    fit = 25
    engagement = 40
    fit_grade = "B"
    engagement_grade = "2"


class AccountRuleScoreFactory(_UpsertFactory):
    class Meta:
        model = AccountRuleScore

    account = factory.SubFactory(AccountFactory)
    ruleset = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    fit = 45
    engagement = 70
    anonymous_engagement = 12
    fit_grade = "A"
    engagement_grade = "1"
    explanation = factory.LazyFunction(lambda: [[None, "Pricing page (anonymous)", 12.0]])
    scored_at = factory.LazyFunction(timezone.now)


class LifecycleTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LifecycleTransition

    contact = factory.SubFactory(ContactFactory)
    from_stage = LifecycleStage.LEAD
    to_stage = LifecycleStage.MQL
    at = factory.LazyFunction(timezone.now)
    rule = "MQL thresholds"
    ruleset = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))


def whatif_result(*, ruleset: Ruleset, baseline: Ruleset, contact=None) -> dict:
    """A finished run's result in the shape ``scoring.whatif`` writes."""
    today = timezone.now().date()
    weeks = [
        {
            "week": (today - datetime.timedelta(weeks=w)).isoformat(),
            "draft": {"mql": 5 + w, "sal": 2},
            "baseline": {"mql": 3 + w, "sal": 1},
        }
        for w in range(4, 0, -1)
    ]
    person = {
        "contact_id": contact.pk if contact else 1,
        "email": contact.email if contact else "new@example.com",
        "name": contact.full_name if contact else "New Person",
        "account": contact.account.name if contact and contact.account else "Acme",
        "fit": 30.0,
        "engagement": 45.0,
        "outcome": "opportunity",
    }
    outcomes = {"mql": 26, "sal": 8, "sql": 5, "opportunity": 3, "won": 1}
    baseline_outcomes = {"mql": 18, "sal": 4, "sql": 4, "opportunity": 2, "won": 1}
    return {
        "days": 90,
        "as_of": today.isoformat(),
        "ruleset": {"id": ruleset.pk, "number": ruleset.number},
        "baseline": {"id": baseline.pk, "number": baseline.number},
        "weeks": weeks,
        "totals": {"draft": outcomes, "baseline": baseline_outcomes},
        "by_channel": [
            {"channel": "Inbound", "draft": {"mql": 20, "sql": 4, "opportunity": 2, "won": 1},
             "baseline": {"mql": 14, "sql": 3, "opportunity": 2, "won": 1}},
        ],
        "by_segment": [
            {"segment": "Mid-market", "draft": {"mql": 12, "sql": 2, "opportunity": 1, "won": 0},
             "baseline": {"mql": 9, "sql": 2, "opportunity": 1, "won": 0}},
        ],
        "newly_qualified": [person],
        "newly_qualified_count": 1,
        "dropped": [],
        "dropped_count": 0,
    }  # fmt: skip


class WhatIfRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WhatIfRun

    ruleset = factory.SubFactory(RulesetFactory)
    baseline = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    days = 90
    status = "succeeded"
    result = factory.LazyAttribute(lambda run: whatif_result(ruleset=run.ruleset, baseline=run.baseline))
