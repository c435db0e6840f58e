"""``/api/playbooks/`` (versioned documents: draft, edit under the ETag, propose, approve by a marketing
and a sales lead, publish, rollback; and ``trigger`` to act on new stage transitions now),
``/api/play-runs/`` (what started for which account, with its log) and ``/api/play-tasks/`` (the work:
mine or my team's, done or skipped; ``next-best`` for accounts)."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import Segment
from revops.api.documents import IF_MATCH, DocumentActionsMixin, WorkflowErrorsMixin, document_actions_schema
from revops.api.pagination import FixedOrderCursorPagination
from revops.api.viewsets import StrictFieldsMixin
from revops.choices import VersionStatus
from scoring.choices import BuyingStage

from .. import selectors, services
from ..choices import RunStatus, TaskStatus
from ..models import Play, PlayAction, Playbook, PlaybookApproval, PlayRun, PlayTask
from ..triggers import plays_trigger

_ERROR = OpenApiResponse(description="{detail} saying why.")
_FIELD_ERRORS = OpenApiResponse(description="Field → messages; nothing was changed.")
_PERMISSIONS = {
    "list": ["playbooks.view_playbook"],
    "retrieve": ["playbooks.view_playbook"],
    "history": ["playbooks.view_playbook", "playbooks.view_playbookhistory"],
    "diff": ["playbooks.view_playbook"],
    "create": ["playbooks.add_playbook"],
    "update": ["playbooks.change_playbook"],
    "partial_update": ["playbooks.change_playbook"],
    "destroy": ["playbooks.change_playbook"],
    "propose": ["playbooks.change_playbook"],
    "withdraw": ["playbooks.change_playbook"],
    "approve": ["playbooks.approve_playbook"],
    "reject": ["playbooks.approve_playbook"],
    "publish": ["playbooks.publish_playbook"],
    "rollback": ["playbooks.publish_playbook"],
    "trigger": ["playbooks.change_playbookcursor"],
}


class PlaySerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Play
        fields = ["id", "position", *services.PLAY_FIELDS]
        read_only_fields = fields


class PlaybookApprovalSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = PlaybookApproval
        fields = ["user", "team_kind", "created"]
        read_only_fields = fields


class PlaybookSerializer(serializers.ModelSerializer):
    is_editable = serializers.BooleanField(read_only=True)
    scope_label = serializers.CharField(read_only=True)
    plays = PlaySerializer(many=True, read_only=True)
    approvals = PlaybookApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = Playbook
        fields = [
            "id", "number", "status", "revision", "is_editable", "stage", "segment", "scope_key",
            "scope_label", "name", "description", "plays", "based_on", "created_by", "proposed_by",
            "proposed_at", "approvals", "published_by", "published_at", "created", "updated",
        ]  # fmt: skip
        read_only_fields = fields


class PlaybookCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    stage = serializers.ChoiceField(choices=BuyingStage.choices)
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=Playbook.objects.all(), required=False, allow_null=True
    )
    name = serializers.CharField(required=False, max_length=200)
    plays = serializers.ListField(child=serializers.DictField(), required=False)


class PlaybookWriteSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    plays = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="The whole list: name, kind, team_kind, channel, due_days, touches (cadences, up to 21), "
        "stop_on, include_customers, include_open_deals, notify_webhook, instructions.",
    )  # fmt: skip


_EDIT_RESPONSES = {
    200: PlaybookSerializer,
    400: _FIELD_ERRORS,
    403: _ERROR,
    409: _ERROR,
    412: _ERROR,
    428: _ERROR,
}


class PlaybookFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=VersionStatus.choices)
    stage = django_filters.ChoiceFilter(choices=BuyingStage.choices)
    segment = django_filters.NumberFilter(field_name="segment_id")

    class Meta:
        model = Playbook
        fields = ["status", "stage", "segment"]


def _queryset():
    return Playbook.objects.select_related("segment").prefetch_related("plays__channel", "approvals__user")


@document_actions_schema(PlaybookSerializer)
class PlaybookViewSet(
    DocumentActionsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """What happens when an account enters a buying stage, as versions signed off by marketing and sales."""

    queryset = Playbook.objects.all()
    serializer_class = PlaybookSerializer
    filterset_class = PlaybookFilterSet
    ordering_fields = ["stage", "number"]
    ordering = ("stage", "scope_key", "-number")
    workflow = services.PLAYBOOKS

    def get_permissions(self):
        if self.action == "comments":
            self.required_permissions = (
                ["playbooks.view_playbook", "playbooks.view_playbookcomment"]
                if self.request.method in ("GET", "HEAD", "OPTIONS")
                else ["playbooks.add_playbookcomment"]
            )
        elif self.action in _PERMISSIONS:
            self.required_permissions = _PERMISSIONS[self.action]
        return super().get_permissions()

    def get_queryset(self):
        return _queryset().for_user(self.request.user)

    def document_response(self, playbook, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = _queryset().get(pk=playbook.pk)
        return Response(PlaybookSerializer(fresh).data, status=status_code, headers={"ETag": fresh.etag})

    def retrieve(self, request, *args, **kwargs):
        return self.document_response(self.get_object())

    def current_body(self, exc) -> dict:
        return {"current": PlaybookSerializer(exc.current).data}

    @extend_schema(
        summary="Start a draft for a stage (and segment)",
        request=PlaybookCreateSerializer,
        responses={201: PlaybookSerializer, 400: _FIELD_ERRORS, 403: _ERROR},
    )
    def create(self, request, *args, **kwargs):
        payload = PlaybookCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        draft = services.playbook_draft_create(
            user=request.user,
            stage=data["stage"],
            segment=data.get("segment"),
            based_on=data.get("based_on"),
            name=data.get("name"),
            plays=data.get("plays"),
        )
        return self.document_response(draft, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a draft (name, description, the whole list of plays)",
        parameters=[IF_MATCH],
        request=PlaybookWriteSerializer,
        responses=_EDIT_RESPONSES,
    )
    def update(self, request, *args, **kwargs):
        playbook = self.get_object()
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send the playbook as a JSON object."]})
        data = {k: v for k, v in request.data.items() if k in ("name", "description", "plays")}
        unknown = set(request.data) - set(PlaybookSerializer.Meta.fields)
        if unknown:
            raise exceptions.ValidationError({k: ["Unknown field."] for k in sorted(unknown)})
        saved = services.playbook_update(
            playbook=playbook,
            user=request.user,
            data=data,
            expected_revision=self.if_match(request, playbook),
        )
        return self.document_response(saved)

    @extend_schema(parameters=[IF_MATCH], request=PlaybookWriteSerializer, responses=_EDIT_RESPONSES)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    @extend_schema(summary="Delete a draft", responses={204: None, 403: _ERROR, 409: _ERROR})
    def destroy(self, request, *args, **kwargs):
        services.PLAYBOOKS.draft_delete(document=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="What changed from another version (default: the one it is based on)",
        parameters=[OpenApiParameter("against", OpenApiTypes.INT, description="A playbook's id.")],
        responses={200: OpenApiResponse(description="settings [{field, old, new}], plays {added, removed, "
                                        "changed}"), 400: _FIELD_ERRORS},
    )  # fmt: skip
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        book = self.get_object()
        raw = request.query_params.get("against")
        if raw is None and book.based_on_id is None:
            raise exceptions.ValidationError({"against": ["This playbook is based on none: say which."]})
        if raw is not None and not raw.isdigit():
            raise exceptions.ValidationError({"against": ["A playbook's id."]})
        against = self.get_queryset().filter(pk=int(raw) if raw is not None else book.based_on_id).first()
        if against is None:
            raise exceptions.ValidationError({"against": ["No such playbook."]})
        return Response(services.playbook_diff(old=against, new=book))

    @extend_schema(
        summary="Act on the stage transitions not acted on yet, now (revenue operations)",
        request=None,
        responses={200: OpenApiResponse(description="Counts: transitions, started, suppressed, stopped …")},
    )
    @action(detail=False, methods=["post"])
    def trigger(self, request):
        return Response(plays_trigger())


class PlayActionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True)

    class Meta:
        model = PlayAction
        fields = ["at", "action", "detail", "actor"]
        read_only_fields = fields


class PlayTaskSerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="run.account_id", read_only=True)
    account_name = serializers.CharField(source="run.account.name", read_only=True)
    play = serializers.CharField(source="run.play.name", read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, allow_null=True)
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True)

    class Meta:
        model = PlayTask
        fields = ["id", "run", "account", "account_name", "play", "sequence", "title", "due_on", "assignee",
                  "team", "status", "done_at"]  # fmt: skip
        read_only_fields = fields


class PlayRunSerializer(serializers.ModelSerializer):
    play_name = serializers.CharField(source="play.name", read_only=True)
    playbook = serializers.IntegerField(source="play.playbook_id", read_only=True)
    tasks = PlayTaskSerializer(many=True, read_only=True)
    actions = PlayActionSerializer(many=True, read_only=True)

    class Meta:
        model = PlayRun
        fields = [
            "id", "play", "play_name", "playbook", "account", "transition", "stage", "status", "started_at",
            "ended_at", "reason", "owner", "team", "tasks", "actions",
        ]  # fmt: skip
        read_only_fields = fields


class PlayRunFilterSet(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="account_id")
    play = django_filters.NumberFilter(field_name="play_id")
    playbook = django_filters.NumberFilter(field_name="play__playbook_id")
    status = django_filters.MultipleChoiceFilter(choices=RunStatus.choices)
    stage = django_filters.ChoiceFilter(choices=BuyingStage.choices)

    class Meta:
        model = PlayRun
        fields = ["account", "play", "playbook", "status", "stage"]


class PlayRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The plays started for accounts (one per play and stage entry), with their tasks and log."""

    queryset = PlayRun.objects.all()
    serializer_class = PlayRunSerializer
    filterset_class = PlayRunFilterSet
    ordering_fields = ["started_at"]
    ordering = ("-started_at", "-id")

    def get_queryset(self):
        return PlayRun.objects.select_related("play", "account").prefetch_related(
            "tasks__run__account", "tasks__run__play", "tasks__assignee", "tasks__team", "actions__actor"
        )


class DueFirstPagination(FixedOrderCursorPagination):
    ordering = ("due_on", "id")


_SCOPE = OpenApiParameter("scope", OpenApiTypes.STR, enum=["mine", "team"], description="Default mine.")
_STATUS = OpenApiParameter("status", OpenApiTypes.STR, enum=TaskStatus.values, description="Default open.")
_ACCOUNTS = OpenApiParameter("account", OpenApiTypes.INT, many=True, description="Account ids (up to 500).")


class PlayTaskViewSet(
    WorkflowErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The work plays give people: mine (assigned to me) or my team's, by due date; done or skipped."""

    queryset = PlayTask.objects.all()
    serializer_class = PlayTaskSerializer
    filter_backends: list = []
    pagination_class = DueFirstPagination

    def get_permissions(self):
        if self.action in ("done", "skip"):
            self.required_permissions = ["playbooks.change_playtask"]
        return super().get_permissions()

    def get_queryset(self):
        scope = self.request.query_params.get("scope", "mine")
        task_status = self.request.query_params.get("status", TaskStatus.OPEN)
        if scope not in ("mine", "team"):
            raise exceptions.ValidationError({"scope": ["mine or team."]})
        if task_status not in TaskStatus.values:
            raise exceptions.ValidationError({"status": [f"One of {', '.join(TaskStatus.values)}."]})
        if self.action in ("done", "skip", "retrieve"):
            return PlayTask.objects.select_related("run__account", "run__play", "assignee", "team")
        return selectors.tasks_for(user=self.request.user, scope=scope, status=task_status).order_by(
            "due_on", "id"
        )

    @extend_schema(parameters=[_SCOPE, _STATUS])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _finish(self, request, task_status: str) -> Response:
        task = self.get_object()
        services.task_finish(task=task, user=request.user, status=task_status)
        return Response(PlayTaskSerializer(selectors.task_get(pk=task.pk)).data)

    @extend_schema(request=None, responses={200: PlayTaskSerializer, 403: _ERROR, 409: _ERROR})
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        """Mark the task done (its assignee or a member of its team)."""
        return self._finish(request, TaskStatus.DONE)

    @extend_schema(request=None, responses={200: PlayTaskSerializer, 403: _ERROR, 409: _ERROR})
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        """Skip the task (its assignee or a member of its team)."""
        return self._finish(request, TaskStatus.SKIPPED)

    @extend_schema(parameters=[_ACCOUNTS], responses=PlayTaskSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="next-best", pagination_class=None)
    def next_best(self, request):
        """Each account's next best action: the open task of its open plays due first."""
        raw = request.query_params.getlist("account")
        if not raw or len(raw) > 500 or not all(v.isdigit() for v in raw):
            raise exceptions.ValidationError({"account": ["One to 500 account ids."]})
        best = selectors.next_best_actions([int(v) for v in raw])
        return Response(PlayTaskSerializer(list(best.values()), many=True).data)
