"""The scoring app's FilterSets, shared by the API and the HTML lists — rules versions, lifecycle moves,
scores, learned scores, models, policy versions, backtests, notifications and webhooks — and the
querysets that read learned scores without loading model artefacts.

A ``ScoringModel`` row carries its booster (megabytes) and its backtest report: lists and joins defer
both, so that a page of a hundred scores never pulls a model's bytes.
"""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import FloatField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.choices import DealStatus, LifecycleStage
from accounts.filtersets import AccountFilterSet, deal_condition
from accounts.normalize import search_domain_form
from revops.choices import JobStatus
from revops.filtersets import SearchFilter
from revops.models import JobRun
from scoring.choices import (
    Band,
    BuyingStage,
    DeliveryStatus,
    LifecycleDecision,
    LifecycleReason,
    PolicyStatus,
    RulesetStatus,
    ScoringModelKind,
    ScoringModelStatus,
)
from scoring.models import (
    AccountModelScore,
    BuyingStageTransition,
    ContactModelScore,
    ContactScore,
    LifecycleTransition,
    Notification,
    QualificationPolicy,
    Ruleset,
    ScoringModel,
    WebhookDelivery,
    WebhookEndpoint,
)
from scoring.selectors import DAY, day_start

# Choice filters say ``distinct=False`` when they read a column of the row itself (or of a one-to-one):
# no row can match twice, and django-filter's default DISTINCT sorts every matching row before the page
# is cut instead of reading an index in the list's order (a million rows for a common stage, issue 16).

# The heavy columns of a model version: never needed to show a score or a list of versions.
HEAVY_MODEL_FIELDS = ("artefact", "metrics", "features", "params")


def without_heavy_model_fields(qs: QuerySet, *relations: str) -> QuerySet:
    """``qs`` joined to its ``ScoringModel`` relations (e.g. "model") without their heavy columns."""
    if not relations:
        return qs
    qs = qs.select_related(*relations)
    return qs.defer(*[f"{relation}__{name}" for relation in relations for name in HEAVY_MODEL_FIELDS])


def report_figure(field: str, metric: str):
    """A headline figure of a stored report (``field``: the JSON column, "metrics" or "result"): the
    champion family's, or XGBoost's in reports written before families were compared."""
    return Coalesce(
        Cast(KT(f"{field}__champion__{metric}"), FloatField()),
        Cast(KT(f"{field}__models__xgboost__{metric}"), FloatField()),
    )


def scoring_model_list(*, user) -> QuerySet[ScoringModel]:
    """Versions ``user`` may see, without artefact and report, with the headline backtest figures."""
    return (
        ScoringModel.objects.for_user(user)
        .defer("artefact", "metrics")
        .annotate(roc_auc=report_figure("metrics", "roc_auc"), pr_auc=report_figure("metrics", "pr_auc"))
    )


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class AccountScoreFilterSet(AccountFilterSet):
    """Accounts by their stored scores as well as their firmographics: the accounts list and API use it
    (registered with ``revops.filtersets.filterset_widen`` when the app is ready)."""

    stage = django_filters.MultipleChoiceFilter(
        distinct=False, field_name="model_score__stage", choices=BuyingStage.choices, label="Buying stage"
    )
    in_market_band = django_filters.MultipleChoiceFilter(
        distinct=False, field_name="model_score__in_market_band", choices=Band.choices, label="In-market band"
    )
    fit_band = django_filters.MultipleChoiceFilter(
        distinct=False, field_name="model_score__fit_band", choices=Band.choices, label="Profile-fit band"
    )
    qualified = django_filters.BooleanFilter(field_name="model_score__qualified", label="Qualified")
    in_market_min = django_filters.NumberFilter(
        field_name="model_score__in_market",
        lookup_expr="gte",
        label="In market ≥ (0 to 1)",
        min_value=0,
        max_value=1,
    )
    profile_fit_min = django_filters.NumberFilter(
        field_name="model_score__profile_fit",
        lookup_expr="gte",
        label="Profile fit ≥ (0 to 100)",
        min_value=0,
        max_value=100,
    )
    fit_grade = django_filters.MultipleChoiceFilter(
        distinct=False,
        field_name="rule_score__fit_grade",
        choices=[(g, g) for g in "ABC"],
        label="Rules fit grade",
    )
    engagement_grade = django_filters.MultipleChoiceFilter(
        distinct=False,
        field_name="rule_score__engagement_grade",
        choices=[(g, g) for g in "123"],
        label="Rules engagement grade",
    )
    engagement_min = django_filters.NumberFilter(
        field_name="rule_score__engagement", lookup_expr="gte", label="Rules engagement ≥", min_value=0
    )
    engagement_max = django_filters.NumberFilter(
        field_name="rule_score__engagement", lookup_expr="lte", label="Rules engagement ≤", min_value=0
    )
    notification = django_filters.NumberFilter(
        method="filter_notification", label="The accounts of notification", min_value=1
    )

    class Meta(AccountFilterSet.Meta):
        fields = [
            *AccountFilterSet.Meta.fields,
            "notification",
            "stage",
            "in_market_band",
            "fit_band",
            "qualified",
            "in_market_min",
            "profile_fit_min",
            "fit_grade",
            "engagement_grade",
            "engagement_min",
            "engagement_max",
        ]

    def filter_notification(self, qs, name, value):
        """Exactly the accounts a notification is about (its link, when the ids do not fit a URL)."""
        if value is None:
            return qs
        ids = Notification.objects.filter(pk=value).values_list("account_ids", flat=True).first() or []
        return qs.filter(pk__in=[i for i in ids if isinstance(i, int)])


class AccountModelScoreFilterSet(django_filters.FilterSet):
    q = SearchFilter(fields=("account__name", "account__domain"), stored_form=search_domain_form)
    stage = django_filters.MultipleChoiceFilter(distinct=False, choices=BuyingStage.choices)
    qualified = django_filters.BooleanFilter()
    fit_band = django_filters.MultipleChoiceFilter(distinct=False, choices=Band.choices)
    in_market_band = django_filters.MultipleChoiceFilter(distinct=False, choices=Band.choices)
    in_market_min = django_filters.NumberFilter(
        field_name="in_market",
        lookup_expr="gte",
        label="In market ≥ (probability, 0 to 1)",
        min_value=0,
        max_value=1,
    )
    profile_fit_min = django_filters.NumberFilter(
        field_name="profile_fit",
        lookup_expr="gte",
        label="Profile fit ≥ (0 to 100)",
        min_value=0,
        max_value=100,
    )
    account = django_filters.NumberFilter(field_name="account_id")
    model = django_filters.NumberFilter(field_name="model_id", label="In-market model version id")
    policy = django_filters.NumberFilter(field_name="policy_id")
    deal = django_filters.MultipleChoiceFilter(
        choices=DealStatus.choices, method="filter_deal", label="Open deal or customer (neither: net-new)"
    )
    owner = django_filters.NumberFilter(field_name="account__owner_id", label="Owner (user id)")
    owner_team = django_filters.NumberFilter(field_name="account__owner_team_id", label="Owning team id")
    industry = django_filters.CharFilter(field_name="account__industry", lookup_expr="iexact")
    employees_min = django_filters.NumberFilter(
        field_name="account__employee_count", lookup_expr="gte", label="Employees ≥"
    )
    employees_max = django_filters.NumberFilter(
        field_name="account__employee_count", lookup_expr="lte", label="Employees ≤"
    )

    class Meta:
        model = AccountModelScore
        fields = [
            "q",
            "stage",
            "qualified",
            "fit_band",
            "in_market_band",
            "in_market_min",
            "profile_fit_min",
            "account",
            "model",
            "policy",
            "deal",
            "owner",
            "owner_team",
            "industry",
            "employees_min",
            "employees_max",
        ]

    def filter_deal(self, qs, name, value):
        """Scores of accounts with an open opportunity, customers, or neither (net-new) — any chosen."""
        return qs.filter(deal_condition(value, account="account_id")) if value else qs


class BuyingStageTransitionFilterSet(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="account_id")
    from_stage = django_filters.MultipleChoiceFilter(distinct=False, choices=BuyingStage.choices)
    to_stage = django_filters.MultipleChoiceFilter(distinct=False, choices=BuyingStage.choices)
    since = django_filters.DateFilter(method="filter_since", label="On or after (date)")
    until = django_filters.DateFilter(method="filter_until", label="On or before (date)")
    policy = django_filters.NumberFilter(field_name="policy_id")

    class Meta:
        model = BuyingStageTransition
        fields = ["account", "from_stage", "to_stage", "since", "until", "policy"]

    def filter_since(self, qs, name, value):
        return qs.filter(at__gte=_day_start(value)) if value else qs

    def filter_until(self, qs, name, value):
        return qs.filter(at__lt=_day_start(value + datetime.timedelta(days=1))) if value else qs


class ContactModelScoreFilterSet(django_filters.FilterSet):
    contact = django_filters.NumberFilter(field_name="contact_id")
    account = django_filters.NumberFilter(field_name="contact__account_id")
    persona_fit_min = django_filters.NumberFilter(
        field_name="persona_fit",
        lookup_expr="gte",
        label="Persona fit ≥ (0 to 100)",
        min_value=0,
        max_value=100,
    )

    class Meta:
        model = ContactModelScore
        fields = ["contact", "account", "persona_fit_min"]


class ScoringModelFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(distinct=False, choices=ScoringModelKind.choices)
    status = django_filters.MultipleChoiceFilter(distinct=False, choices=ScoringModelStatus.choices)

    class Meta:
        model = ScoringModel
        fields = ["kind", "status"]


class QualificationPolicyFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(distinct=False, choices=PolicyStatus.choices)

    class Meta:
        model = QualificationPolicy
        fields = ["status"]


class BacktestFilterSet(django_filters.FilterSet):
    """Backtest jobs (``JobRun`` rows of kind "backtest")."""

    status = django_filters.MultipleChoiceFilter(distinct=False, choices=JobStatus.choices)

    class Meta:
        model = JobRun
        fields = ["status"]


# --- rules, lifecycle, rules scores --------------------------------------------------------------------
class RulesetFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(distinct=False, choices=RulesetStatus.choices)

    class Meta:
        model = Ruleset
        fields = ["status"]


class LifecycleTransitionFilterSet(django_filters.FilterSet):
    contact = django_filters.NumberFilter(field_name="contact_id")
    from_stage = django_filters.MultipleChoiceFilter(distinct=False, choices=LifecycleStage.choices)
    to_stage = django_filters.MultipleChoiceFilter(distinct=False, choices=LifecycleStage.choices)
    since = django_filters.DateFilter(method="filter_since", label="On or after (date)")
    until = django_filters.DateFilter(method="filter_until", label="On or before (date)")
    actor = django_filters.NumberFilter(field_name="actor_id")
    ruleset = django_filters.NumberFilter(field_name="ruleset_id")
    automatic = django_filters.BooleanFilter(field_name="actor", lookup_expr="isnull", label="Made by a rule")
    decision = django_filters.MultipleChoiceFilter(distinct=False, choices=LifecycleDecision.choices)
    reason_code = django_filters.MultipleChoiceFilter(distinct=False, choices=LifecycleReason.choices)

    class Meta:
        model = LifecycleTransition
        fields = [
            "contact",
            "from_stage",
            "to_stage",
            "since",
            "until",
            "actor",
            "ruleset",
            "automatic",
            "decision",
            "reason_code",
        ]

    def filter_since(self, qs, name, value):
        return qs.filter(at__gte=day_start(value)) if value else qs

    def filter_until(self, qs, name, value):
        return qs.filter(at__lt=day_start(value + DAY)) if value else qs


class ContactScoreFilterSet(django_filters.FilterSet):
    fit_grade = django_filters.MultipleChoiceFilter(distinct=False, choices=[(g, g) for g in "ABC"])
    engagement_grade = django_filters.MultipleChoiceFilter(distinct=False, choices=[(g, g) for g in "123"])
    grade = django_filters.MultipleChoiceFilter(
        method="filter_grade", choices=[(f + e, f + e) for f in "ABC" for e in "123"], label="Grade (A1 … C3)"
    )
    excluded = django_filters.BooleanFilter(method="filter_excluded", label="Excluded (disqualified)")
    ruleset = django_filters.NumberFilter(field_name="ruleset_id")
    contact = django_filters.NumberFilter(field_name="contact_id")

    class Meta:
        model = ContactScore
        fields = ["fit_grade", "engagement_grade", "grade", "excluded", "ruleset", "contact"]

    def filter_grade(self, qs, name, value):
        if not value:
            return qs
        query = Q()
        for grade in value:
            query |= Q(fit_grade=grade[0], engagement_grade=grade[1])
        return qs.filter(query)

    def filter_excluded(self, qs, name, value):
        if value is None:
            return qs
        return qs.exclude(excluded="") if value else qs.filter(excluded="")


# --- notifications and webhooks --------------------------------------------------------------------------
class NotificationFilterSet(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(method="filter_unread", label="Unread")
    kind = django_filters.CharFilter()

    class Meta:
        model = Notification
        fields = ["team", "kind", "unread"]

    def filter_unread(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(read_at__isnull=value)


class WebhookEndpointFilterSet(django_filters.FilterSet):
    class Meta:
        model = WebhookEndpoint
        fields = ["team", "active"]


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(distinct=False, choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter()
    event_id = django_filters.UUIDFilter()

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "status", "event_type", "event_id"]
