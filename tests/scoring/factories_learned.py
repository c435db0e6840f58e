"""Factories for the learned scores, model versions and qualification policy versions.

(The pipeline that computes account scores is tested elsewhere; these build rows for the API, admin
and policy tests.)
"""

import datetime
import hashlib
import importlib

import factory
from django.apps import apps as django_apps
from django.db.models import Max
from django.utils import timezone

from revops.models import JobRun
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    Band,
    BuyingStage,
    BuyingStageTransition,
    ContactModelScore,
    PolicyStatus,
    QualificationPolicy,
    ScoringModel,
    ScoringModelKind,
    ScoringModelStatus,
)
from tests.accounts.factories import AccountFactory, ContactFactory

ARTEFACT = b"not-a-real-booster: the API and the admin must never show these bytes"


def starter_policy() -> QualificationPolicy:
    """The published starter policy (v1) that migration 0007 ships, re-created if a test flushed it."""
    published = QualificationPolicy.objects.filter(status=PolicyStatus.PUBLISHED).first()
    if published is None:
        importlib.import_module("scoring.migrations.0007_starter_policy").forwards(django_apps, None)
        published = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    return published


def report(roc_auc: float = 0.81) -> dict:
    """A small backtest report shaped like ``scoring.ml.backtest.run``'s."""
    figures = {
        "rows": 1000,
        "positives": 80,
        "base_rate": 0.08,
        "roc_auc": roc_auc,
        "pr_auc": 0.31,
        "top_decile_lift": 3.2,
        "top_decile_capture": 0.4,
        "precision_at_100": 0.3,
        "precision_at_5pct": 0.35,
        "brier": 0.06,
        "calibration": {"predicted": [0.05, 0.5], "observed": [0.04, 0.45]},
    }
    return {
        "kind": "in_market",
        "as_of": "2024-06-30",
        "horizon_days": 90,
        "folds": [],
        "models": {"xgboost": figures, "rules": {**figures, "roc_auc": 0.66, "brier": None}},
        "leakage_warnings": [{"feature": "opportunities_open", "auc": 0.97, "warning": "predicts the label"}],
    }


def _next_version(kind: str) -> int:
    return (ScoringModel.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0) + 1


class ScoringModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringModel

    kind = ScoringModelKind.IN_MARKET
    version = factory.LazyAttribute(lambda m: _next_version(m.kind))
    status = ScoringModelStatus.CHALLENGER
    features = factory.LazyFunction(lambda: ["research_30d", "log_employees"])
    params = factory.LazyFunction(lambda: {"max_depth": 3})
    train_start = datetime.date(2024, 1, 31)
    train_end = datetime.date(2024, 5, 31)
    metrics = factory.LazyFunction(report)
    artefact = ARTEFACT
    artefact_sha256 = hashlib.sha256(ARTEFACT).hexdigest()
    trained_at = factory.LazyFunction(timezone.now)
    reason = "Trained in a test."


class QualificationPolicyFactory(factory.django.DjangoModelFactory):
    """A draft numbered after the highest version."""

    class Meta:
        model = QualificationPolicy

    number = factory.LazyFunction(
        lambda: (QualificationPolicy.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    )
    name = factory.Sequence(lambda n: f"Policy {n}")
    status = PolicyStatus.DRAFT


class AccountModelScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountModelScore

    account = factory.SubFactory(AccountFactory)
    model = None
    policy = factory.LazyFunction(starter_policy)
    as_of = factory.LazyFunction(timezone.localdate)
    profile_fit = 72.0
    fit_band = Band.HIGH
    in_market = 0.35
    in_market_band = Band.HIGH
    qualified = True
    stage = BuyingStage.DECISION
    stage_since = factory.LazyFunction(timezone.now)
    contributions = factory.LazyFunction(lambda: [["research_30d", 5.0, 0.42], ["log_employees", 5.5, -0.1]])
    scored_at = factory.LazyFunction(timezone.now)


class AccountModelScoreHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountModelScoreHistory

    account = factory.SubFactory(AccountFactory)
    model = None
    policy = factory.LazyFunction(starter_policy)
    as_of = factory.LazyFunction(timezone.localdate)
    scored_at = factory.LazyFunction(timezone.now)
    profile_fit = 60.0
    in_market = 0.2
    qualified = False
    stage = BuyingStage.CONSIDERATION


class BuyingStageTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BuyingStageTransition

    account = factory.SubFactory(AccountFactory)
    from_stage = BuyingStage.CONSIDERATION
    to_stage = BuyingStage.DECISION
    at = factory.LazyFunction(timezone.now)
    in_market = 0.33
    reason = "in market 0.33 ≥ 0.30 (decision)"
    model = None
    policy = factory.LazyFunction(starter_policy)


class ContactModelScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactModelScore

    contact = factory.SubFactory(ContactFactory)
    model = None
    persona_fit = 80.0
    engagement_vs_buyers = 55.0
    scored_at = factory.LazyFunction(timezone.now)


class BacktestJobFactory(factory.django.DjangoModelFactory):
    """A finished backtest job whose result is the report."""

    class Meta:
        model = JobRun

    kind = "backtest"
    status = "succeeded"
    params = factory.LazyFunction(lambda: {"as_of": None, "horizon_days": 90, "folds": 3})
    result = factory.LazyFunction(report)
    finished_at = factory.LazyFunction(timezone.now)
