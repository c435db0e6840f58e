"""API for the learned scores: account and contact scores with their explanation, buying-stage
transitions, model versions (backtest report, promote, roll back, retrain), backtests, account rescoring
and the versions of the qualification policy.

Thin: reads go through the shared FilterSets (``scoring.filtersets``), writes call one service each
(``scoring.policy``, ``scoring.learned.registry``, ``scoring.learned.jobs``,
``scoring.learned.predictions``). State
errors answer 409, missing rights 403, bad input 400 with field → messages. A model's artefact bytes
are never read for, nor written to, an answer.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, Contact
from revops.api.documents import IF_MATCH, WorkflowErrorsMixin
from revops.api.serializers import JobRunSerializer
from revops.api.viewsets import StrictFieldsMixin
from revops.filtersets import WidenedFilterSet
from revops.models import JobRun
from revops.services import job_not_queued
from scoring import filtersets as filters
from scoring import pipeline
from scoring import policy as policies
from scoring.api.views import HistoryPagination, OldestFirstPagination, TransitionCursorPagination
from scoring.choices import BuyingStage, ScoringModelKind
from scoring.learned import jobs as ml_jobs
from scoring.learned.predictions import account_score_as_of
from scoring.learned.words import account_explanation
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    BuyingStageTransition,
    ContactModelScore,
    PolicyApproval,
    PolicyComment,
    PolicyHistory,
    QualificationPolicy,
    ScoringModel,
)

_ERROR = OpenApiResponse(description="{detail} saying why.")
_FIELD_ERRORS = OpenApiResponse(description="Field → messages; nothing was changed.")
_ACCOUNT_ID = OpenApiParameter(
    "account_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The account's id."
)
_CONTACT_ID = OpenApiParameter(
    "contact_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The contact's id."
)


def _scoped(qs, user, parent: type[Account] | type[Contact]):
    """Derived rows follow the row scoping of what they are about (``for_user`` of accounts or contacts).

    Today that scoping is all rows or none, decided by permission, so it is checked once on the parent
    queryset instead of joining every score to it.
    """
    return qs.none() if parent.objects.for_user(user).query.is_empty() else qs


def _job_started(job: JobRun) -> Response:
    """202 and the new job; 409 and the job already doing the same work (nothing new was started); 503
    when the job could not be queued (it is failed, with the reason in ``detail``)."""
    existing = getattr(job, "existing", False)
    job.refresh_from_db()
    body = {"job": job.pk, "status": job.status, "url": reverse("jobrun-detail", args=[job.pk])}
    if job_not_queued(job):
        return Response({"detail": job.message, **body}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if existing:
        detail = f"A {job.kind} job doing the same work is already {job.status}: follow it; none was started."
        return Response({"detail": detail, **body}, status=status.HTTP_409_CONFLICT)
    return Response(JobStartedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class JobRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why no job was started.")
    job = serializers.IntegerField(help_text="409: the job already doing this work; 503: the failed job.")
    status = serializers.CharField()
    url = serializers.CharField(help_text="Poll it: /api/jobs/{id}/.")


_JOB_RESPONSES = {
    409: OpenApiResponse(JobRefusedSerializer, description="The same work is already queued or running."),
    503: OpenApiResponse(JobRefusedSerializer, description="The task queue is down; the job is failed."),
}


def _validated(serializer_class, data) -> dict[str, Any]:
    payload = serializer_class(data=data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


# --- serializers ------------------------------------------------------------------------------------
class JobStartedSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="The JobRun's id.")
    status = serializers.CharField()
    url = serializers.CharField(help_text="Poll it for progress and the result: /api/jobs/{id}/.")


class ExplanationItemSerializer(serializers.Serializer):
    feature = serializers.CharField(help_text="The model's feature name.")
    value = serializers.JSONField(help_text="The account's value of the feature when it was scored.")
    contribution = serializers.FloatField(
        help_text="Its SHAP contribution in log-odds (+ raises, − lowers): kept as it was for compatibility; "
        "probability_points says what it does to the probability."
    )
    probability_points = serializers.FloatField(
        allow_null=True,
        help_text="Percentage points it adds to (+) or takes from (−) the in-market probability: "
        "p(L) − p(L − contribution), L the account's log-odds, the rest held. Within −100 to 100.",
    )
    points = serializers.CharField(
        help_text='The points for people: "+12 pts", "-3 pts", "<1 pt" under half a point.'
    )
    strength = serializers.CharField(
        help_text="strong (10 points or more), moderate (3 or more) or slight, then raise or lower; "
        '"no effect" at zero.'
    )
    words = serializers.CharField(
        help_text='In plain words: "3 research-page visits … in the last 30 days: +12 pts (strong raise)".'
    )
    description = serializers.CharField(required=False, help_text="What the feature measures.")


class AccountModelScoreSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    account_domain = serializers.CharField(source="account.domain", read_only=True, allow_null=True)
    model_version = serializers.IntegerField(
        source="model.version", read_only=True, default=None, allow_null=True
    )
    policy_number = serializers.IntegerField(source="policy.number", read_only=True)

    class Meta:
        model = AccountModelScore
        fields = [
            "account",
            "account_name",
            "account_domain",
            "profile_fit",
            "fit_band",
            "in_market",
            "in_market_band",
            "qualified",
            "stage",
            "stage_since",
            "model",
            "model_version",
            "fit_model",
            "policy",
            "policy_number",
            "as_of",
            "scored_at",
        ]
        read_only_fields = fields


class AccountModelScoreDetailSerializer(AccountModelScoreSerializer):
    """A score with why: the top contributions of the in-market model, in words."""

    explanation = serializers.SerializerMethodField()

    class Meta(AccountModelScoreSerializer.Meta):
        fields = [*AccountModelScoreSerializer.Meta.fields, "explanation"]
        read_only_fields = fields

    @extend_schema_field(ExplanationItemSerializer(many=True))
    def get_explanation(self, obj) -> list[dict[str, Any]]:

        return account_explanation(obj)


class AccountModelScoreHistorySerializer(serializers.ModelSerializer):
    """A past score's numbers (its explanation is not stored)."""

    model_version = serializers.IntegerField(
        source="model.version", read_only=True, default=None, allow_null=True
    )
    policy_number = serializers.IntegerField(source="policy.number", read_only=True)

    class Meta:
        model = AccountModelScoreHistory
        fields = [
            "id",
            "account",
            "as_of",
            "scored_at",
            "profile_fit",
            "in_market",
            "qualified",
            "stage",
            "model",
            "model_version",
            "policy",
            "policy_number",
        ]
        read_only_fields = fields


class BuyingStageTransitionSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    from_stage = serializers.ChoiceField(
        choices=BuyingStage.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty: the first stage it had.",
    )
    model_version = serializers.IntegerField(
        source="model.version", read_only=True, default=None, allow_null=True
    )
    policy_number = serializers.IntegerField(source="policy.number", read_only=True)

    class Meta:
        model = BuyingStageTransition
        fields = [
            "id",
            "account",
            "account_name",
            "from_stage",
            "to_stage",
            "at",
            "in_market",
            "reason",
            "model",
            "model_version",
            "policy",
            "policy_number",
        ]
        read_only_fields = fields


class ContactModelScoreSerializer(serializers.ModelSerializer):
    email = serializers.CharField(source="contact.email", read_only=True)
    account = serializers.IntegerField(source="contact.account_id", read_only=True, allow_null=True)
    model_version = serializers.IntegerField(
        source="model.version", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = ContactModelScore
        fields = [
            "contact",
            "email",
            "account",
            "persona_fit",
            "engagement_vs_buyers",
            "conversion",
            "model",
            "model_version",
            "conversion_model",
            "scored_at",
        ]
        read_only_fields = fields


_MODEL_FIELDS = [
    "id",
    "kind",
    "version",
    "status",
    "reason",
    "horizon_days",
    "train_start",
    "train_end",
    "artefact_sha256",
    "trained_by",
    "trained_at",
    "promoted_at",
    "created",
    "updated",
]


class ScoringModelSerializer(serializers.ModelSerializer):
    """A model version in lists: identity, state and the headline backtest figures (no report)."""

    roc_auc = serializers.FloatField(read_only=True, allow_null=True, help_text="Backtest ROC AUC.")
    pr_auc = serializers.FloatField(read_only=True, allow_null=True, help_text="Backtest PR AUC.")

    class Meta:
        model = ScoringModel
        fields = [*_MODEL_FIELDS, "roc_auc", "pr_auc"]
        read_only_fields = fields


class ScoringModelDetailSerializer(ScoringModelSerializer):
    """A model version with its features, parameters and backtest report (never the artefact)."""

    class Meta(ScoringModelSerializer.Meta):
        fields = [*ScoringModelSerializer.Meta.fields, "features", "params", "metrics"]
        read_only_fields = fields


class ModelPromoteSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Why, for the audit log."
    )


class ModelRollbackSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ScoringModelKind.choices, default=ScoringModelKind.IN_MARKET)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


def _not_in_future(value: datetime.date | None) -> datetime.date | None:
    if value is not None and value > timezone.localdate():
        raise serializers.ValidationError("Must not be in the future.")
    return value


class _TrainingWindowSerializer(StrictFieldsMixin, serializers.Serializer):
    as_of = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Last day of data to use; default: all."
    )
    horizon_days = serializers.IntegerField(
        min_value=7,
        max_value=365,
        default=90,
        help_text="Days in which an opportunity counts as the outcome.",
    )
    folds = serializers.IntegerField(min_value=1, max_value=12, default=3, help_text="Rolling-origin folds.")

    def validate_as_of(self, value):
        return _not_in_future(value)


class BacktestStartSerializer(_TrainingWindowSerializer):
    pass


class ModelTrainSerializer(_TrainingWindowSerializer):
    margin = serializers.FloatField(
        min_value=0,
        max_value=1,
        default=0.005,
        help_text="ROC AUC by which the new version must beat the champion to replace it.",
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BacktestListSerializer(JobRunSerializer):
    """A backtest job without its report; ``roc_auc`` is the in-market model's."""

    roc_auc = serializers.FloatField(read_only=True, allow_null=True)

    class Meta(JobRunSerializer.Meta):
        fields = [*(f for f in JobRunSerializer.Meta.fields if f != "result"), "roc_auc"]
        read_only_fields = fields


class AccountRescoreSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PolicyApprovalSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = PolicyApproval
        fields = ["user", "username", "team_kind", "created"]
        read_only_fields = fields


class QualificationPolicySerializer(serializers.ModelSerializer):
    is_editable = serializers.BooleanField(read_only=True, help_text="Only drafts change.")
    approvals = PolicyApprovalSerializer(
        many=True, read_only=True, help_text="Of the current proposal: a marketing and a sales lead's."
    )

    class Meta:
        model = QualificationPolicy
        fields = [
            "id",
            "number",
            "status",
            "revision",
            "is_editable",
            *policies.POLICY_FIELDS,
            "based_on",
            "created_by",
            "proposed_by",
            "proposed_at",
            "approvals",
            "published_by",
            "published_at",
            "created",
            "updated",
        ]
        read_only_fields = fields


class PolicyRejectSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why: it goes to the history and the comments.")


class PolicyCommentSerializer(serializers.ModelSerializer):
    author_username = serializers.CharField(
        source="author.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = PolicyComment
        fields = ["id", "policy", "author", "author_username", "body", "created"]
        read_only_fields = fields


class PolicyCommentCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class PolicyHistorySerializer(serializers.ModelSerializer):
    actor_username = serializers.CharField(
        source="actor.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = PolicyHistory
        fields = ["id", "at", "actor", "actor_username", "action", "detail"]
        read_only_fields = fields


class PolicyCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=QualificationPolicy.objects.all(),
        required=False,
        allow_null=True,
        help_text="The version to copy; default: the published one.",
    )
    name = serializers.CharField(max_length=200, required=False, help_text="Default: the copied version's.")


_QUALIFYING_BANDS = QualificationPolicy._meta.get_field("qualified_fit_band").choices


class PolicyWriteSerializer(serializers.Serializer):
    """An edit of a draft (documentation: ``scoring.policy.policy_data_clean`` checks it)."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    icp_weight = serializers.FloatField(min_value=0, max_value=1)
    icp_fit_full = serializers.FloatField(help_text="Above 0.")
    fit_high_min = serializers.FloatField(min_value=0, max_value=100)
    fit_medium_min = serializers.FloatField(min_value=0, max_value=100, help_text="At most fit_high_min.")
    in_market_high_min = serializers.FloatField(min_value=0, max_value=1)
    in_market_medium_min = serializers.FloatField(
        min_value=0, max_value=1, help_text="At most in_market_high_min."
    )
    qualified_fit_band = serializers.ChoiceField(choices=_QUALIFYING_BANDS)
    qualified_in_market_band = serializers.ChoiceField(choices=_QUALIFYING_BANDS)
    awareness_min = serializers.FloatField(min_value=0, max_value=1)
    consideration_min = serializers.FloatField(min_value=0, max_value=1, help_text="At least awareness_min.")
    decision_min = serializers.FloatField(min_value=0, max_value=1, help_text="At least consideration_min.")
    purchase_min = serializers.FloatField(min_value=0, max_value=1, help_text="At least decision_min.")
    hysteresis = serializers.FloatField(min_value=0, max_value=1)
    min_days_in_stage = serializers.IntegerField(min_value=0, max_value=365)


# --- account and contact scores ---------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="Accounts' learned scores: profile fit, in market, qualified, buying stage",
        description="Ordered by in-market probability (highest first) unless `ordering` says otherwise.",
    ),
    retrieve=extend_schema(
        summary="An account's learned scores, with the top contributions in words",
        description=(
            "`explanation`: the in-market model's largest contributions (SHAP), largest first, each as the "
            "percentage points it adds to the probability (`probability_points`, `points`), a `strength` "
            "word and its log-odds (`contribution`)."
        ),
        parameters=[_ACCOUNT_ID],
    ),
)
class AccountModelScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only: scores are written by the scoring pipeline. Looked up by account id."""

    queryset = AccountModelScore.objects.all()
    serializer_class = AccountModelScoreSerializer
    lookup_url_kwarg = "account_id"
    ordering_fields = ["in_market", "profile_fit", "scored_at"]

    # The apps above add their filters (scores, stage, segment …): revops.filtersets.
    filterset_class = WidenedFilterSet("scoring.accountmodelscore", filters.AccountModelScoreFilterSet)

    @property
    def ordering(self):
        if self.action == "history":
            return ("-scored_at", "-id")
        if self.action == "transitions":
            return ("-at", "-id")
        return ("-in_market", "-pk")

    def get_permissions(self):
        if self.action in ("history", "as_of"):
            self.required_permissions = ["scoring.view_accountmodelscorehistory"]
        elif self.action == "transitions":
            self.required_permissions = ["scoring.view_buyingstagetransition"]
        return super().get_permissions()

    def get_queryset(self):
        qs = filters.without_heavy_model_fields(
            AccountModelScore.objects.select_related("account", "policy"), "model"
        )
        return _scoped(qs, self.request.user, Account)

    def get_serializer_class(self):
        return AccountModelScoreDetailSerializer if self.action == "retrieve" else AccountModelScoreSerializer

    def _account(self, account_id) -> Account:
        return get_object_or_404(Account.objects.for_user(self.request.user), pk=account_id)

    @extend_schema(
        summary="Every past learned score of an account, newest first",
        parameters=[_ACCOUNT_ID],
        responses=AccountModelScoreHistorySerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["scored_at"])
    def history(self, request, account_id=None):
        rows = filters.without_heavy_model_fields(
            AccountModelScoreHistory.objects.filter(account=self._account(account_id)).select_related(
                "policy"
            ),
            "model",
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AccountModelScoreHistorySerializer(page, many=True).data)

    @extend_schema(
        summary=(
            "An account's learned score as of a past day, stored and reproduced with the model that made it"
        ),
        parameters=[_ACCOUNT_ID, OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="as-of", filterset_class=None)
    def as_of(self, request, account_id=None):
        account = self._account(account_id)
        try:
            day = datetime.date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            raise exceptions.ValidationError({"date": ["Give the day as YYYY-MM-DD."]}) from None

        answer = account_score_as_of(account_id=account.pk, day=day)
        if answer is None:
            raise exceptions.NotFound(f"Account {account.pk} had no learned score on or before {day}.")
        return Response(answer)

    @extend_schema(
        summary="An account's buying-stage transitions, newest first",
        parameters=[_ACCOUNT_ID],
        responses=BuyingStageTransitionSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["at"])
    def transitions(self, request, account_id=None):
        rows = filters.without_heavy_model_fields(
            BuyingStageTransition.objects.filter(account=self._account(account_id)).select_related(
                "account", "policy"
            ),
            "model",
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(BuyingStageTransitionSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="Accounts' buying-stage transitions, newest first"),
    retrieve=extend_schema(summary="One buying-stage transition"),
)
class BuyingStageTransitionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Which account moved between buying stages, when, with what evidence, under which versions."""

    queryset = BuyingStageTransition.objects.all()
    serializer_class = BuyingStageTransitionSerializer
    filterset_class = filters.BuyingStageTransitionFilterSet
    pagination_class = TransitionCursorPagination
    ordering_fields = ["at"]
    ordering = ("-at", "-id")

    def get_queryset(self):
        qs = filters.without_heavy_model_fields(
            BuyingStageTransition.objects.select_related("account", "policy"), "model"
        )
        return _scoped(qs, self.request.user, Account)


@extend_schema_view(
    list=extend_schema(
        summary="Contacts' learned scores: persona fit, engagement against buyers, conversion"
    ),
    retrieve=extend_schema(summary="A contact's learned scores", parameters=[_CONTACT_ID]),
)
class ContactModelScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only: scores are written by the scoring pipeline. Looked up by contact id."""

    queryset = ContactModelScore.objects.all()
    serializer_class = ContactModelScoreSerializer
    filterset_class = filters.ContactModelScoreFilterSet
    lookup_url_kwarg = "contact_id"
    ordering_fields = ["persona_fit", "engagement_vs_buyers", "conversion", "scored_at"]
    ordering = ("-pk",)

    def get_queryset(self):
        qs = filters.without_heavy_model_fields(ContactModelScore.objects.select_related("contact"), "model")
        return _scoped(qs, self.request.user, Contact)


# --- models, training, backtests, rescoring -----------------------------------------------------------
_MODEL_PERMISSIONS = {
    "list": ["scoring.view_scoringmodel"],
    "retrieve": ["scoring.view_scoringmodel"],
    "backtest": ["scoring.view_scoringmodel"],
    "promote": ["scoring.view_scoringmodel", "scoring.promote_scoringmodel"],
    "rollback": ["scoring.view_scoringmodel", "scoring.promote_scoringmodel"],
    "train": ["scoring.rescore_accounts"],
}


@extend_schema_view(
    list=extend_schema(
        summary="Model versions (without their report)",
        description="Newest first; `roc_auc` and `pr_auc` are the in-market model's backtest figures.",
    ),
    retrieve=extend_schema(summary="A model version: features, parameters and backtest report"),
)
class ScoringModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Trained versions of the learned scores (the registry): champion, challengers, retired ones."""

    queryset = ScoringModel.objects.all()
    serializer_class = ScoringModelSerializer
    filterset_class = filters.ScoringModelFilterSet
    ordering_fields = ["id", "version", "trained_at"]
    ordering = ("-id",)
    throttle_scope = None  # "train" starts a job: rated as "jobs" (revops/api/throttles.py)

    def get_permissions(self):
        if self.action in _MODEL_PERMISSIONS:
            self.required_permissions = _MODEL_PERMISSIONS[self.action]
        return super().get_permissions()

    def get_queryset(self):
        qs = filters.scoring_model_list(user=self.request.user)
        if self.action != "list":
            qs = qs.defer(None).defer("artefact")  # the report is shown; the bytes never are
        return qs

    def get_serializer_class(self):
        return ScoringModelSerializer if self.action == "list" else ScoringModelDetailSerializer

    def _detail(self, model: ScoringModel) -> Response:
        return Response(ScoringModelDetailSerializer(self.get_queryset().get(pk=model.pk)).data)

    @extend_schema(
        summary="The version's backtest report",
        description="Per compared model (the candidate families xgboost, logistic_regression and blend; "
        "the baselines plain_xgboost, naive_bayes and rules; on demo data the oracles observable_ceiling "
        "and ground_truth): ROC AUC, PR AUC, top-decile lift and capture, precision at k, Brier and "
        "calibration, pooled and per fold; the champion family with bootstrap intervals of its "
        "differences; what each feature group earns; dropped columns; the split and leakage warnings.",
        responses={200: OpenApiTypes.OBJECT, 404: _ERROR},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def backtest(self, request, pk=None):
        model = self.get_object()
        if not model.metrics:
            raise exceptions.NotFound(f"{model.kind} v{model.version} has no backtest report.")
        return Response(model.metrics)

    @extend_schema(
        summary="Promote this version to champion (the current champion retires)",
        request=ModelPromoteSerializer,
        responses={200: ScoringModelDetailSerializer, 400: _FIELD_ERRORS, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def promote(self, request, pk=None):
        from scoring.learned import registry  # scikit-learn and XGBoost: loaded only when needed

        model = self.get_object()
        data = _validated(ModelPromoteSerializer, request.data)
        try:
            promoted = registry.model_promote(model=model, user=request.user, reason=data["reason"])
        except registry.RegistryError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self._detail(promoted)

    @extend_schema(
        summary="Roll back: the previous champion of a kind becomes champion again",
        request=ModelRollbackSerializer,
        responses={200: ScoringModelDetailSerializer, 400: _FIELD_ERRORS, 403: _ERROR, 409: _ERROR},
        filters=False,
    )
    @action(detail=False, methods=["post"], filterset_class=None)
    def rollback(self, request):
        from scoring.learned import registry  # scikit-learn and XGBoost: loaded only when needed

        data = _validated(ModelRollbackSerializer, request.data)
        try:
            champion = registry.model_rollback(user=request.user, kind=data["kind"], reason=data["reason"])
        except registry.RegistryError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self._detail(champion)

    @extend_schema(
        summary="Retrain the in-market model (and the look-alike fit models) as a job",
        description="Backtests the new version and registers it; it replaces the champion only if it "
        "beats it by `margin`. Poll the job for progress.",
        request=ModelTrainSerializer,
        responses={202: JobStartedSerializer, 400: _FIELD_ERRORS, 403: _ERROR, **_JOB_RESPONSES},
        filters=False,
    )
    @action(detail=False, methods=["post"], filterset_class=None, throttle_scope="jobs")
    def train(self, request):
        data = _validated(ModelTrainSerializer, request.data)
        job = ml_jobs.model_train_schedule(
            user=request.user,
            horizon_days=data["horizon_days"],
            margin=data["margin"],
            folds=data["folds"],
            as_of=data["as_of"],
            reason=data["reason"] or "API request",
        )
        return _job_started(job)


_BACKTEST_PERMISSIONS = {
    "list": ["revops.view_jobrun", "scoring.view_scoringmodel"],
    "retrieve": ["revops.view_jobrun", "scoring.view_scoringmodel"],
    "create": ["scoring.rescore_accounts"],
}


@extend_schema_view(
    list=extend_schema(summary="Backtest jobs, newest first (without their report)"),
    retrieve=extend_schema(
        summary="A backtest job; when it succeeded, `result` is the report",
        responses=JobRunSerializer,
    ),
)
class BacktestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Backtests of the in-market model against its baselines on a rolling-origin split, run as jobs."""

    queryset = JobRun.objects.filter(kind=ml_jobs.BACKTEST_KIND)
    serializer_class = BacktestListSerializer
    throttle_scope = "jobs"  # starting backtests is rated apart (revops/api/throttles.py)
    filterset_class = filters.BacktestFilterSet
    ordering = ("-id",)

    def get_permissions(self):
        if self.action in _BACKTEST_PERMISSIONS:
            self.required_permissions = _BACKTEST_PERMISSIONS[self.action]
        return super().get_permissions()

    def get_queryset(self):
        qs = JobRun.objects.for_user(self.request.user).filter(kind=ml_jobs.BACKTEST_KIND)
        if self.action == "list":
            qs = qs.defer("result").annotate(roc_auc=filters.report_figure("result", "roc_auc"))
        return qs

    def get_serializer_class(self):
        return BacktestListSerializer if self.action == "list" else JobRunSerializer

    @extend_schema(
        summary="Start a backtest (202 + the job to poll)",
        request=BacktestStartSerializer,
        responses={202: JobStartedSerializer, 400: _FIELD_ERRORS, 403: _ERROR, **_JOB_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        data = _validated(BacktestStartSerializer, request.data)
        job = ml_jobs.backtest_schedule(
            user=request.user, as_of=data["as_of"], horizon_days=data["horizon_days"], folds=data["folds"]
        )
        return _job_started(job)


class AccountRescoreView(APIView):
    """Rescore every account with the champion models and the published policy, as a job."""

    required_permissions = ["scoring.rescore_accounts"]
    throttle_scope = "jobs"

    @extend_schema(
        operation_id="account_rescore_create",
        summary="Rescore all accounts (202 + the job to poll)",
        request=AccountRescoreSerializer,
        responses={202: JobStartedSerializer, 400: _FIELD_ERRORS, 403: _ERROR, **_JOB_RESPONSES},
    )
    def post(self, request):

        data = _validated(AccountRescoreSerializer, request.data)
        job = pipeline.full_rescore_schedule(user=request.user, reason=data["reason"] or "API request")
        return _job_started(job)


# --- qualification policy versions -------------------------------------------------------------------
_POLICY_PERMISSIONS = {
    "list": ["scoring.view_qualificationpolicy"],
    "retrieve": ["scoring.view_qualificationpolicy"],
    "create": ["scoring.add_qualificationpolicy"],
    "update": ["scoring.change_qualificationpolicy"],
    "partial_update": ["scoring.change_qualificationpolicy"],
    "destroy": ["scoring.change_qualificationpolicy"],
    "propose": ["scoring.change_qualificationpolicy"],
    "withdraw": ["scoring.change_qualificationpolicy"],
    "approve": ["scoring.approve_qualificationpolicy"],
    "reject": ["scoring.approve_qualificationpolicy"],
    "publish": ["scoring.publish_qualificationpolicy"],
    "rollback": ["scoring.publish_qualificationpolicy"],
    "history": ["scoring.view_qualificationpolicy", "scoring.view_policyhistory"],
}


def _policy_queryset():
    return QualificationPolicy.objects.prefetch_related(
        Prefetch("approvals", queryset=PolicyApproval.objects.select_related("user"))
    )


# Keys of the document that are state, not content: ignored when a client sends the document back (PUT).
_POLICY_READ_ONLY_KEYS = {*QualificationPolicySerializer.Meta.fields} - {*policies.POLICY_FIELDS}
_POLICY_RESPONSES = {
    200: QualificationPolicySerializer, 400: _FIELD_ERRORS, 403: _ERROR, 409: _ERROR,
    412: OpenApiResponse(description="Changed since you read it: {detail, your_revision, current_revision, "
                         "current}; the ETag header is the current one."),
    428: _ERROR,
}  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="Versions of the qualification policy, newest first"),
    retrieve=extend_schema(
        summary="A version of the qualification policy",
        description="The ETag header guards edits of a draft: send it back in If-Match.",
    ),
)
class QualificationPolicyViewSet(
    WorkflowErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """What "fits", "in market", "qualified" and each buying stage mean, as versions in the workflow of
    rules versions: drafts are edited, proposed, approved by a marketing lead and a sales lead, published
    (the published version is superseded); rollback publishes a superseded version again."""

    queryset = QualificationPolicy.objects.all()
    serializer_class = QualificationPolicySerializer
    filterset_class = filters.QualificationPolicyFilterSet
    ordering_fields = ["number"]
    ordering = ("-number",)

    def get_permissions(self):
        if self.action == "comments":
            self.required_permissions = (
                ["scoring.view_qualificationpolicy", "scoring.view_policycomment"]
                if self.request.method in ("GET", "HEAD", "OPTIONS")
                else ["scoring.add_policycomment"]
            )
        elif self.action in _POLICY_PERMISSIONS:
            self.required_permissions = _POLICY_PERMISSIONS[self.action]
        return super().get_permissions()

    def get_queryset(self):
        return _policy_queryset().for_user(self.request.user)

    def _policy(self, policy: QualificationPolicy, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = _policy_queryset().get(pk=policy.pk)  # as saved, with its approvals now
        return Response(
            QualificationPolicySerializer(fresh).data, status=status_code, headers={"ETag": fresh.etag}
        )

    def retrieve(self, request, *args, **kwargs):
        return self._policy(self.get_object())

    def current_body(self, exc) -> dict:
        # Edited since the client read it (412): what it is now, to merge with, like a ruleset's answer.
        return {"current": QualificationPolicySerializer(exc.current).data}

    @extend_schema(
        summary="Start a draft (a copy of `based_on`, default: the published version)",
        request=PolicyCreateSerializer,
        responses={201: QualificationPolicySerializer, 400: _FIELD_ERRORS, 403: _ERROR},
    )
    def create(self, request, *args, **kwargs):
        data = _validated(PolicyCreateSerializer, request.data)
        draft = policies.policy_draft_create(
            user=request.user, based_on=data.get("based_on"), name=data.get("name")
        )
        return self._policy(draft, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a draft",
        description="PUT sends every field (the read-only ones of a document read with GET are "
        "ignored); PATCH sends the fields to change. Bands and stage thresholds must stay in order "
        "(awareness ≤ consideration ≤ decision ≤ purchase). A version that is not a draft: 409. "
        "If-Match carries the ETag you read: missing 428, stale 412 (nothing changed).",
        parameters=[IF_MATCH],
        request=PolicyWriteSerializer,
        responses=_POLICY_RESPONSES,
    )
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        policy = self.get_object()
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send the policy as a JSON object."]})
        data = {key: value for key, value in request.data.items()}
        if not partial:
            data = {k: v for k, v in data.items() if k not in _POLICY_READ_ONLY_KEYS}
            missing = [name for name in policies.POLICY_FIELDS if name not in data and name != "description"]
            if missing:
                raise exceptions.ValidationError(
                    {name: ["Required with PUT (the whole policy); use PATCH to change some fields."]
                     for name in missing}
                )  # fmt: skip
        saved = policies.policy_update(
            policy=policy, user=request.user, data=data, expected_revision=self.if_match(request, policy)
        )
        return self._policy(saved)

    @extend_schema(parameters=[IF_MATCH], request=PolicyWriteSerializer, responses=_POLICY_RESPONSES)
    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    @extend_schema(summary="Delete a draft", responses={204: None, 403: _ERROR, 409: _ERROR})
    def destroy(self, request, *args, **kwargs):
        policies.policy_delete(policy=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Propose a draft for sign-off",
        description="A marketing lead and a sales lead approve it, not the proposer; frozen meanwhile.",
        request=None,
        responses={200: QualificationPolicySerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        return self._policy(policies.policy_propose(policy=self.get_object(), user=request.user))

    @extend_schema(
        summary="Withdraw a proposal (back to draft; approvals are cleared)",
        request=None,
        responses={200: QualificationPolicySerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._policy(policies.policy_withdraw(policy=self.get_object(), user=request.user))

    @extend_schema(
        summary="Approve a proposed version for your team",
        description="A marketing lead and a sales lead approve; the proposer may not (four eyes).",
        request=None,
        responses={200: QualificationPolicySerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        policy = self.get_object()
        policies.policy_approve(policy=policy, user=request.user)
        return self._policy(policy)

    @extend_schema(
        summary="Reject a proposed version (back to draft, with the reason)",
        request=PolicyRejectSerializer,
        responses={200: QualificationPolicySerializer, 400: _FIELD_ERRORS, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        policy = self.get_object()
        data = _validated(PolicyRejectSerializer, request.data)
        return self._policy(policies.policy_reject(policy=policy, user=request.user, reason=data["reason"]))

    @extend_schema(
        summary="Publish a version a marketing lead and a sales lead approved",
        description="The published version is superseded; accounts are rescored under this one.",
        request=None,
        responses={200: QualificationPolicySerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._policy(policies.policy_publish(policy=self.get_object(), user=request.user))

    @extend_schema(
        summary="Roll back: publish this earlier version again",
        description="Only a version that was published before; accounts are rescored under it.",
        request=None,
        responses={200: QualificationPolicySerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return self._policy(policies.policy_rollback(target=self.get_object(), user=request.user))

    @extend_schema(
        methods=["GET"], summary="Comments on this version", responses=PolicyCommentSerializer(many=True)
    )
    @extend_schema(
        methods=["POST"],
        summary="Comment on this version",
        request=PolicyCommentCreateSerializer,
        responses={201: PolicyCommentSerializer, 400: _FIELD_ERRORS, 403: _ERROR},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=OldestFirstPagination, filter_backends=[])
    def comments(self, request, pk=None):
        policy = self.get_object()
        if request.method == "POST":
            data = _validated(PolicyCommentCreateSerializer, request.data)
            comment = policies.policy_comment_add(policy=policy, user=request.user, body=data["body"])
            return Response(PolicyCommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        comments = self.paginate_queryset(policy.comments.select_related("author"))
        return self.get_paginated_response(PolicyCommentSerializer(comments, many=True).data)

    @extend_schema(
        summary="What happened to this version, in order", responses=PolicyHistorySerializer(many=True)
    )
    @action(detail=True, methods=["get"], pagination_class=HistoryPagination, filter_backends=[])
    def history(self, request, pk=None):
        rows = self.paginate_queryset(self.get_object().history.select_related("actor"))
        return self.get_paginated_response(PolicyHistorySerializer(rows, many=True).data)
