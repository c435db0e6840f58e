"""``/api/revenue-plans/``: revenue plans as versioned documents (draft → proposed → approved by a
marketing lead and a sales lead → published; rollback), what each implies (pipeline and opportunities
needed, created a cycle ahead, each channel's quota by month) and its attainment with the forecast."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Segment
from revops.api.documents import IF_MATCH, DocumentActionsMixin, document_actions_schema
from revops.api.viewsets import StrictFieldsMixin
from revops.models import Team

from .. import selectors, services
from ..choices import PeriodKind
from ..filtersets import RevenuePlanFilterSet
from ..models import PlanAllocation, PlanApproval, RevenuePlan
from ..reports import attainment_as_dict, figures_as_dict, metrics_window, sales_metrics

_ERROR = OpenApiResponse(description="{detail} saying why.")
_FIELD_ERRORS = OpenApiResponse(description="Field → messages; nothing was changed.")
_READ_ONLY_KEYS = {
    "id", "number", "status", "revision", "is_editable", "period_end", "scope_key", "scope_label",
    "history_figures", "figures", "approvals", "based_on", "created_by", "proposed_by", "proposed_at",
    "published_by", "published_at", "created", "updated",
}  # fmt: skip
_PERMISSIONS = {
    "list": ["plans.view_revenueplan"],
    "retrieve": ["plans.view_revenueplan"],
    "attainment": ["plans.view_revenueplan"],
    "diff": ["plans.view_revenueplan"],
    "history": ["plans.view_revenueplan", "plans.view_planhistory"],
    "create": ["plans.add_revenueplan"],
    "update": ["plans.change_revenueplan"],
    "partial_update": ["plans.change_revenueplan"],
    "destroy": ["plans.change_revenueplan"],
    "propose": ["plans.change_revenueplan"],
    "withdraw": ["plans.change_revenueplan"],
    "approve": ["plans.approve_revenueplan"],
    "reject": ["plans.approve_revenueplan"],
    "publish": ["plans.publish_revenueplan"],
    "rollback": ["plans.publish_revenueplan"],
}


class PlanAllocationSerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = PlanAllocation
        fields = ["channel", "share", "capacity", "note"]
        read_only_fields = fields


class PlanApprovalSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = PlanApproval
        fields = ["user", "team_kind", "created"]
        read_only_fields = fields


class RevenuePlanSerializer(serializers.ModelSerializer):
    is_editable = serializers.BooleanField(read_only=True, help_text="Only drafts change.")
    period_end = serializers.DateField(read_only=True)
    scope_label = serializers.CharField(read_only=True)
    allocations = PlanAllocationSerializer(many=True, read_only=True)
    approvals = PlanApprovalSerializer(many=True, read_only=True)
    figures = serializers.SerializerMethodField(
        help_text="The numbers in use (override or history, with the source of each), pipeline and "
        "opportunities needed, the months they must be created in, each channel's quota, and any problem."
    )

    class Meta:
        model = RevenuePlan
        fields = [
            "id",
            "number",
            "status",
            "revision",
            "is_editable",
            "period_kind",
            "period_start",
            "period_end",
            "team",
            "segment",
            "scope_key",
            "scope_label",
            *services.PLAN_FIELDS,
            "history_figures",
            "allocations",
            "figures",
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

    def get_figures(self, plan: RevenuePlan) -> dict[str, Any]:
        return figures_as_dict(selectors.plan_figures(plan))


class PlanCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    period_kind = serializers.ChoiceField(choices=PeriodKind.choices, default=PeriodKind.QUARTER)
    period_start = serializers.DateField(help_text="The first day of a month.")
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=RevenuePlan.objects.all(), required=False, allow_null=True,
        help_text="Copy this plan's numbers and channels (any period); default: the period's published plan.",
    )  # fmt: skip
    name = serializers.CharField(required=False, max_length=200)
    revenue_target = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, min_value=0)
    allocations = serializers.ListField(child=serializers.DictField(), required=False)


class PlanWriteSerializer(serializers.Serializer):
    """For the schema: what an edit may send (the service checks every value)."""

    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    revenue_target = serializers.DecimalField(max_digits=16, decimal_places=2, required=False)
    history_start = serializers.DateField(required=False)
    history_end = serializers.DateField(required=False)
    win_rate = serializers.FloatField(required=False, allow_null=True, help_text="0–1; null: the history's.")
    win_rate_note = serializers.CharField(required=False, allow_blank=True)
    deal_size = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    deal_size_note = serializers.CharField(required=False, allow_blank=True)
    cycle_days = serializers.IntegerField(required=False, allow_null=True)
    cycle_days_note = serializers.CharField(required=False, allow_blank=True)
    allocations = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text='The whole list: [{"channel": "inbound", "share": 0.4, "capacity": null, "note": ""}]; '
        "shares add up to 1.",
    )  # fmt: skip
    refresh_history = serializers.BooleanField(required=False, help_text="Compute the history again.")


_EDIT_RESPONSES = {
    200: RevenuePlanSerializer,
    400: _FIELD_ERRORS,
    403: _ERROR,
    409: _ERROR,
    412: _ERROR,
    428: _ERROR,
}


def _validated(serializer_class, data) -> dict[str, Any]:
    payload = serializer_class(data=data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


def _plan_queryset():
    return RevenuePlan.objects.select_related("team", "segment").prefetch_related(
        "allocations__channel", "approvals__user"
    )


@extend_schema_view(
    list=extend_schema(summary="Revenue plans, newest period first"),
    retrieve=extend_schema(summary="A revenue plan with its quotas", description="The ETag guards edits."),
)
@document_actions_schema(RevenuePlanSerializer)
class RevenuePlanViewSet(
    DocumentActionsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A period's revenue target worked back to pipeline quotas per channel, as versions signed off by a
    marketing lead and a sales lead."""

    queryset = RevenuePlan.objects.all()
    serializer_class = RevenuePlanSerializer
    filterset_class = RevenuePlanFilterSet
    ordering_fields = ["period_start", "number"]
    ordering = ("-period_start", "scope_key", "-number")

    def get_permissions(self):
        if self.action == "comments":
            self.required_permissions = (
                ["plans.view_revenueplan", "plans.view_plancomment"]
                if self.request.method in ("GET", "HEAD", "OPTIONS")
                else ["plans.add_plancomment"]
            )
        elif self.action in _PERMISSIONS:
            self.required_permissions = _PERMISSIONS[self.action]
        return super().get_permissions()

    def get_queryset(self):
        return _plan_queryset().for_user(self.request.user)

    workflow = services.PLANS

    def document_response(self, plan: RevenuePlan, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = _plan_queryset().get(pk=plan.pk)
        return Response(RevenuePlanSerializer(fresh).data, status=status_code, headers={"ETag": fresh.etag})

    def retrieve(self, request, *args, **kwargs):
        return self.document_response(self.get_object())

    def current_body(self, exc) -> dict:
        return {"current": RevenuePlanSerializer(exc.current).data}

    @extend_schema(
        summary="Start a draft for a period (its history computed, channels as the history suggests)",
        request=PlanCreateSerializer,
        responses={201: RevenuePlanSerializer, 400: _FIELD_ERRORS, 403: _ERROR},
    )
    def create(self, request, *args, **kwargs):
        data = _validated(PlanCreateSerializer, request.data)
        fields = {k: data[k] for k in ("name", "revenue_target", "allocations") if k in data}
        draft = services.plan_draft_create(
            user=request.user,
            period_kind=data["period_kind"],
            period_start=data["period_start"],
            team=data.get("team"),
            segment=data.get("segment"),
            based_on=data.get("based_on"),
            data=fields,
        )
        return self.document_response(draft, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a draft",
        description="Send the fields to change (PUT and PATCH alike); `allocations` replaces the whole list. "
        "An override of the win rate, deal size or cycle needs its note. If-Match: missing 428, stale 412.",
        parameters=[IF_MATCH],
        request=PlanWriteSerializer,
        responses=_EDIT_RESPONSES,
    )
    def update(self, request, *args, **kwargs):
        plan = self.get_object()
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send the plan as a JSON object."]})
        # What a GET gave back and is not edited is ignored, so a client may send a plan as it read it.
        data = {k: v for k, v in request.data.items() if k not in _READ_ONLY_KEYS}
        saved = services.plan_update(
            plan=plan, user=request.user, data=data, expected_revision=self.if_match(request, plan)
        )
        return self.document_response(saved)

    @extend_schema(parameters=[IF_MATCH], request=PlanWriteSerializer, responses=_EDIT_RESPONSES)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    @extend_schema(summary="Delete a draft", responses={204: None, 403: _ERROR, 409: _ERROR})
    def destroy(self, request, *args, **kwargs):
        services.plan_delete(plan=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="What changed from another version (default: the one it is based on)",
        parameters=[OpenApiParameter("against", OpenApiTypes.INT, description="A plan's id.")],
        responses={200: OpenApiResponse(description="settings [{field, old, new}], allocations {added, "
                                        "removed, changed}"), 400: _FIELD_ERRORS},
    )  # fmt: skip
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        plan = self.get_object()
        raw = request.query_params.get("against")
        if raw is None and plan.based_on_id is None:
            raise exceptions.ValidationError(
                {"against": ["This plan is based on none: say which to compare."]}
            )
        if raw is not None and not raw.isdigit():
            raise exceptions.ValidationError({"against": ["A plan's id."]})
        against = self.get_queryset().filter(pk=int(raw) if raw is not None else plan.based_on_id).first()
        if against is None:
            raise exceptions.ValidationError({"against": ["No such plan."]})
        return Response(services.plan_diff(old=against, new=plan))

    @extend_schema(
        summary="Pipeline and opportunities created each month by channel against quota, and the forecast",
        responses={200: OpenApiResponse(description="months, channels (quota and created by month), totals, "
                                        "forecast with its 95% cone")},
    )  # fmt: skip
    @action(detail=True, methods=["get"])
    def attainment(self, request, pk=None):
        plan = self.get_object()
        figures = selectors.plan_figures(plan)
        return Response(attainment_as_dict(plan, figures, selectors.plan_attainment(plan, figures)))


class SalesMetricsView(APIView):
    """The metrics sales trusts, each from its one definition (the same as every page shows): account and
    persona engagement, deal velocity by month, accounts in market by buying stage, the conversion chain of
    the window's MQL cohort, and the contacts currently in each lifecycle stage."""

    required_permissions = ["accounts.view_contact", "scoring.view_accountmodelscore"]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE, description="Default: 89 days before until."),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Default: today."),
        ],
        responses={200: OpenApiResponse(description="The figures, with their window."), 400: _FIELD_ERRORS},
    )
    def get(self, request):
        unknown = sorted(set(request.query_params) - {"since", "until"})
        if unknown:
            raise exceptions.ValidationError({key: ["Unknown parameter."] for key in unknown})
        since, until = metrics_window(request.query_params)
        return Response(sales_metrics(user=request.user, since=since, until=until))
