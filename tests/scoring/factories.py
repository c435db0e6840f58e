"""Factories for scoring data — rule versions, scores, lifecycle, what-if runs, learned models and
qualification policies — and stubs for modules written alongside (rescore, notifications)."""

import datetime
import hashlib
import importlib
import sys
import types

import factory
from django.apps import apps as django_apps
from django.db.models import Max
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage
from revops.choices import Role, TeamKind
from revops.models import JobRun
from scoring.choices import (
    Band,
    BuyingStage,
    PolicyStatus,
    RulesetStatus,
    ScoringModelKind,
    ScoringModelStatus,
)
from scoring.models import (
    DEFAULT_SQL_CHECKLIST,
    AccountModelScore,
    AccountModelScoreHistory,
    AccountRuleScore,
    BuyingStageTransition,
    ContactModelScore,
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    QualificationPolicy,
    Ruleset,
    ScoringModel,
    WhatIfRun,
)
from tests.accounts.factories import AccountFactory, ContactFactory

# Users are made with a password; the default PBKDF2 takes most of a test's time.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- rule versions ----------------------------------------------------------------------------------
def starter_ruleset() -> Ruleset:
    """The published starter version (v1) that migration 0003 ships, re-created if a transactional
    test flushed it (live-server tests)."""
    published = Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()
    if published is None:
        importlib.import_module("scoring.migrations.0003_starter_ruleset").create(django_apps, None)
        published = Ruleset.objects.get(status=RulesetStatus.PUBLISHED)
    return published


def _published_ruleset() -> Ruleset:
    return Ruleset.objects.get(status=RulesetStatus.PUBLISHED)


def _next_number() -> int:
    # The starter version (v1) comes from a migration; new versions take the next free number.
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


# --- rule scores and the lifecycle ------------------------------------------------------------------
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
    ruleset = factory.LazyFunction(_published_ruleset)
    fit = 35
    engagement = 40
    fit_grade = "B"
    engagement_grade = "2"
    as_of = factory.LazyFunction(lambda: timezone.now().date())
    scored_at = factory.LazyFunction(timezone.now)


class ContactScoreHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactScoreHistory

    contact = factory.SubFactory(ContactFactory)
    ruleset = factory.LazyFunction(_published_ruleset)
    as_of = factory.LazyFunction(lambda: timezone.now().date())
    scored_at = factory.LazyFunction(timezone.now)
    fit = 35
    engagement = 40
    fit_grade = "B"
    engagement_grade = "2"


class AccountRuleScoreFactory(_UpsertFactory):
    class Meta:
        model = AccountRuleScore

    account = factory.SubFactory(AccountFactory)
    ruleset = factory.LazyFunction(_published_ruleset)
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
    rule = "MQL threshold"
    ruleset = factory.LazyFunction(_published_ruleset)


# --- what-if runs -----------------------------------------------------------------------------------
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
    baseline = factory.LazyFunction(_published_ruleset)
    days = 90
    status = "succeeded"
    result = factory.LazyAttribute(lambda run: whatif_result(ruleset=run.ruleset, baseline=run.baseline))


# --- learned models, their scores and the qualification policy --------------------------------------
ARTEFACT = b"not-a-real-booster: the API and the admin must never show these bytes"


def starter_policy() -> QualificationPolicy:
    """The published starter policy (v1) that migration 0007 ships, re-created if a test flushed it."""
    published = QualificationPolicy.objects.filter(status=PolicyStatus.PUBLISHED).first()
    if published is None:
        importlib.import_module("scoring.migrations.0007_starter_policy").forwards(django_apps, None)
        published = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    return published


def report(roc_auc: float = 0.81) -> dict:
    """A small backtest report shaped like ``scoring.learned.backtest.run``'s."""
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
    """A challenger whose artefact is placeholder bytes (see ``champion_in_market`` for a real one)."""

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


def champion_in_market(*, as_of: datetime.date, snapshots: int = 3, trees: int = 25) -> ScoringModel:
    """A small real XGBoost booster on the world's own point-in-time snapshots, registered as the
    champion with its artefact bytes and checksum (no backtest: that is tested apart).

    Trains on month-spaced snapshots ending ``horizon`` days before ``as_of``."""
    # Imported here: pandas, scikit-learn and XGBoost would slow every test that imports this module.
    from xgboost import XGBClassifier

    from scoring.learned import backtest as B
    from scoring.learned import features as F

    last = as_of - datetime.timedelta(days=90)
    dates = [last - datetime.timedelta(days=30 * k) for k in range(snapshots)][::-1]
    frame = F.snapshots(dates=dates, horizon_days=90)
    columns = B.feature_columns(frame)
    y = frame["label"].to_numpy()
    if y.min() == y.max():  # a degenerate world: make both classes exist so the booster is a classifier
        y = y.copy()
        y[0] = 1 - y[0]
    model = XGBClassifier(n_estimators=trees, max_depth=3, learning_rate=0.2, n_jobs=1, random_state=0)
    model.fit(frame[columns], y)
    data = bytes(model.get_booster().save_raw("json"))
    version = (ScoringModel.objects.filter(kind=ScoringModelKind.IN_MARKET).count() or 0) + 1
    ScoringModel.objects.filter(kind=ScoringModelKind.IN_MARKET, status=ScoringModelStatus.CHAMPION).update(
        status=ScoringModelStatus.RETIRED
    )
    return ScoringModel.objects.create(
        kind=ScoringModelKind.IN_MARKET,
        version=version,
        status=ScoringModelStatus.CHAMPION,
        features=columns,
        params={"n_estimators": trees, "top_keys": frame.attrs.get("top_keys", [])},
        train_start=dates[0],
        train_end=dates[-1],
        metrics={"models": {}},
        artefact=data,
        artefact_sha256=hashlib.sha256(data).hexdigest(),
        trained_at=timezone.now(),
        promoted_at=timezone.now(),
        reason="test champion",
    )


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
    """Record ``scoring.pipeline.full_rescore_schedule`` calls instead of rescoring."""
    return stub_callable(monkeypatch, "scoring.pipeline", "full_rescore_schedule")


def stub_notify(monkeypatch) -> list[dict]:
    """Record ``scoring.delivery.notifications.stage_change_notify`` calls instead of notifying."""
    return stub_callable(monkeypatch, "scoring.delivery.notifications", "stage_change_notify")


# --- admin pages ---------------------------------------------------------------------------------
def _form_value(field, value):
    if value is None:
        return ""
    prepared = field.prepare_value(value)
    return "" if prepared is None else str(prepared)


def change_form_data(response) -> dict:
    """What the browser would post back for the change page in ``response``, unchanged."""
    data: dict = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if getattr(field.widget, "input_type", "") == "checkbox":
            if value:
                data[name] = "on"
        else:
            data[name] = _form_value(field, value)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        prefix = formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = str(len(formset.initial_forms))
        data[f"{prefix}-INITIAL_FORMS"] = str(len(formset.initial_forms))
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for sub in formset.initial_forms:
            for name, field in sub.fields.items():
                key = sub.add_prefix(name)
                if name == "id":
                    data[key] = str(sub.instance.pk)
                elif name == formset.fk.name:
                    data[key] = str(formset.instance.pk)
                elif name == "DELETE":
                    continue
                elif getattr(field.widget, "input_type", "") == "checkbox":
                    if sub.initial.get(name):
                        data[key] = "on"
                else:
                    data[key] = _form_value(field, sub.initial.get(name))
    return data
