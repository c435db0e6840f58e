"""What-if runs and full rescores over the API."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from revops.api.viewsets import StrictFieldsMixin
from revops.permissions import RolePermission
from revops.services import job_not_queued
from scoring import pipeline
from scoring.models import Ruleset, WhatIfRun
from scoring.whatif import MAX_DAYS, whatif_run_start


class WhatIfRunSerializer(serializers.ModelSerializer):
    ruleset = serializers.PrimaryKeyRelatedField(read_only=True)
    baseline = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = WhatIfRun
        fields = [
            "id",
            "ruleset",
            "baseline",
            "days",
            "scope",
            "status",
            "error",
            "result",
            "created",
            "updated",
        ]
        read_only_fields = fields


class WhatIfRefusedSerializer(WhatIfRunSerializer):
    """409: the same comparison already queued or running (nothing new started); 503: the queue is down."""

    detail = serializers.CharField()

    class Meta(WhatIfRunSerializer.Meta):
        fields = ["detail", *WhatIfRunSerializer.Meta.fields]


_RESCORE_REFUSED = inline_serializer(
    "RescoreRefused",
    {"detail": serializers.CharField(), "job": serializers.IntegerField(), "status": serializers.CharField()},
)


class WhatIfStartSerializer(StrictFieldsMixin, serializers.Serializer):
    ruleset = serializers.PrimaryKeyRelatedField(queryset=Ruleset.objects.all())
    baseline = serializers.PrimaryKeyRelatedField(
        queryset=Ruleset.objects.all(), required=False, allow_null=True
    )
    days = serializers.IntegerField(min_value=7, max_value=MAX_DAYS, default=90)


class WhatIfRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Replay a version (usually a draft) over the last N days against another (default: published).

    ``POST`` starts a run (202); ``GET /api/whatif/{id}/`` shows its status and, when done, the result:
    MQLs/SALs per week for both versions, totals with what actually happened next (SQL, opportunity,
    won), by channel and by segment, and who newly qualifies or drops out.
    """

    queryset = WhatIfRun.objects.select_related("ruleset", "baseline").order_by("-created", "-id")
    serializer_class = WhatIfRunSerializer
    permission_classes = [RolePermission]
    throttle_scope = "jobs"  # starting runs is rated apart (revops/api/throttles.py)
    filterset_fields = ["ruleset", "status"]

    def get_serializer_class(self):
        return WhatIfStartSerializer if self.action == "create" else WhatIfRunSerializer

    @extend_schema(
        request=WhatIfStartSerializer,
        responses={202: WhatIfRunSerializer, 409: WhatIfRefusedSerializer, 503: WhatIfRefusedSerializer},
    )
    def create(self, request, *args, **kwargs):
        form = WhatIfStartSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            run = whatif_run_start(
                ruleset=form.validated_data["ruleset"],
                baseline=form.validated_data.get("baseline"),
                days=form.validated_data["days"],
                user=request.user,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        existing = getattr(run, "existing", False)
        run.refresh_from_db()
        if run.status == "failed" and run.error.startswith("Not started:"):  # the queue is down
            return Response({"detail": run.error, **WhatIfRunSerializer(run).data}, status=503)
        if existing:  # the same comparison is queued or running: that run, nothing new started (409)
            body = {"detail": "The same what-if run is already queued or running: follow it.",
                    **WhatIfRunSerializer(run).data}  # fmt: skip
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(WhatIfRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RescoreView(APIView):
    """Start a full rescore of every contact and account with the published rules (202 + job id)."""

    permission_classes = [RolePermission]
    required_permissions = ["scoring.rescore_contacts"]
    throttle_scope = "jobs"

    @extend_schema(
        request=None,
        responses={202: inline_serializer("RescoreStarted", {"job": serializers.IntegerField(),
                                                              "status": serializers.CharField()}),
                   409: _RESCORE_REFUSED, 503: _RESCORE_REFUSED},
    )  # fmt: skip
    def post(self, request):
        job = pipeline.full_rescore_schedule(user=request.user, reason="API request")
        existing = getattr(job, "existing", False)
        job.refresh_from_db()
        body = {"job": job.pk, "status": job.status}
        if job_not_queued(job):
            return Response({"detail": job.message, **body}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if existing:  # one full rescore of the same versions at a time: this is it, none was started
            detail = f"A full rescore with the same versions is already {job.status}: follow it."
            return Response({"detail": detail, **body}, status=status.HTTP_409_CONFLICT)
        return Response(body, status=status.HTTP_202_ACCEPTED)
