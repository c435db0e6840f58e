"""Factories for scoring data, and stubs for modules written alongside (rescore, notifications)."""

import importlib
import sys
import types

import factory
from django.db.models import Max
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage
from revops.choices import Role, TeamKind
from scoring.models import (
    DEFAULT_SQL_CHECKLIST,
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    Rule,
    RuleKind,
    RuleOperator,
    Ruleset,
    RulesetComment,
    RulesetStatus,
)
from tests.accounts.factories import ContactFactory
from tests.revops.factories import UserFactory

# Users are made with a password; the default PBKDF2 takes most of a test's time.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _next_number() -> int:
    return (Ruleset.objects.aggregate(n=Max("number"))["n"] or 0) + 1


class RulesetFactory(factory.django.DjangoModelFactory):
    """A draft by default (the migration ships v1, published); numbers follow the highest."""

    class Meta:
        model = Ruleset

    number = factory.LazyFunction(_next_number)
    name = factory.Sequence(lambda n: f"Rules {n}")
    status = RulesetStatus.DRAFT
    sql_checklist = factory.LazyFunction(lambda: list(DEFAULT_SQL_CHECKLIST))
    fast_track_event_types = factory.LazyFunction(lambda: [EventType.DEMO_REQUEST.value])


class FitRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    ruleset = factory.SubFactory(RulesetFactory)
    position = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Fit rule {n}")
    kind = RuleKind.FIT
    field = "seniority"
    operator = RuleOperator.IN
    value = factory.LazyFunction(lambda: ["vp", "director"])
    points = 10


class EngagementRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    ruleset = factory.SubFactory(RulesetFactory)
    position = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Engagement rule {n}")
    kind = RuleKind.ENGAGEMENT
    event_type = EventType.PAGE_VIEW
    url_pattern = r"^/pricing"
    points = 5
    repeatable = True
    cap = 20
    half_life_days = 14
    window_days = 90


class RulesetCommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RulesetComment

    ruleset = factory.SubFactory(RulesetFactory)
    author = factory.SubFactory(UserFactory)
    body = "Looks good to me."


class LifecycleTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LifecycleTransition

    contact = factory.SubFactory(ContactFactory)
    from_stage = LifecycleStage.LEAD
    to_stage = LifecycleStage.MQL
    at = factory.LazyFunction(timezone.now)
    rule = "MQL threshold"


class ContactScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactScore

    contact = factory.SubFactory(ContactFactory)
    ruleset = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    fit = 35
    engagement = 40
    fit_grade = "B"
    engagement_grade = "2"
    explanation = factory.LazyFunction(lambda: [[1, "Decision-maker seniority", 15], [8, "Pricing page", 20]])
    scored_at = factory.LazyFunction(timezone.now)


class ContactScoreHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactScoreHistory

    contact = factory.SubFactory(ContactFactory)
    ruleset = factory.LazyFunction(lambda: Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    as_of = factory.LazyFunction(lambda: timezone.now().date())
    scored_at = factory.LazyFunction(timezone.now)
    fit = 35
    engagement = 40
    fit_grade = "B"
    engagement_grade = "2"


# --- people -----------------------------------------------------------------------------------------
def make_lead(user_in, *kinds: str, **user_kwargs):
    """A user who leads every team of ``kinds`` (the first through ``user_in``)."""
    from revops import services
    from tests.revops.factories import TeamFactory

    user = user_in(kinds[0], Role.LEAD, **user_kwargs)
    for kind in kinds[1:]:
        services.membership_set(actor=None, user=user, team=TeamFactory(kind=kind), role=Role.LEAD)
    return user


def workflow_people(user_in) -> types.SimpleNamespace:
    """The cast of the workflow: editors, both approving leads, a publisher, a viewer."""
    return types.SimpleNamespace(
        marketer=user_in(TeamKind.MARKETING, Role.MEMBER),
        seller=user_in(TeamKind.SALES, Role.MEMBER),
        marketing_lead=user_in(TeamKind.MARKETING, Role.LEAD),
        sales_lead=user_in(TeamKind.SALES, Role.LEAD),
        viewer=user_in(TeamKind.SALES, Role.VIEWER),
    )


# --- stubs for modules written by others -----------------------------------------------------------
def stub_callable(monkeypatch, module_name: str, attribute: str) -> list[dict]:
    """Replace ``module_name.attribute`` by a recorder (creating a stand-in module if it does not exist)."""
    calls: list[dict] = []
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = types.ModuleType(module_name)
        monkeypatch.setitem(sys.modules, module_name, module)
    monkeypatch.setattr(module, attribute, lambda **kwargs: calls.append(kwargs), raising=False)
    return calls


def stub_rescore(monkeypatch) -> list[dict]:
    """Record ``scoring.rescore.rescore_all_schedule`` calls instead of rescoring."""
    return stub_callable(monkeypatch, "scoring.rescore", "rescore_all_schedule")


def stub_notify(monkeypatch) -> list[dict]:
    """Record ``scoring.notifications.stage_change_notify`` calls instead of notifying."""
    return stub_callable(monkeypatch, "scoring.notifications", "stage_change_notify")
