"""The desk's API: ``/api/me/accounts/`` (filtered like ``/api/accounts/``) and ``/api/me/queue/``."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.filtersets import AccountFilterSet
from accounts.models import Account
from playbooks.selectors import tasks_for
from revops.filtersets import WidenedFilterSet

from .. import selectors, services
from ..choices import Scope
from . import serializers

SCOPE_PARAMETER = OpenApiParameter(
    "scope",
    OpenApiTypes.STR,
    enum=Scope.values,
    description="mine (default): what you own; team: also what your teams own.",
)


def _scope(request) -> str:
    value = request.query_params.get("scope")
    if value not in (None, *Scope.values):
        raise ValidationError({"scope": [f"One of: {', '.join(Scope.values)}."]})
    return selectors.scope_read(value)


@extend_schema(parameters=[SCOPE_PARAMETER])
class MyAccountsView(generics.ListAPIView):
    """Accounts you own (``scope=team``: or your teams own), with their stored scores, filtered exactly as
    ``/api/accounts/`` filters."""

    queryset = Account.objects.none()  # the model, for permissions and the schema; rows: get_queryset
    serializer_class = serializers.MyAccountSerializer
    filterset_class = WidenedFilterSet("accounts.account", AccountFilterSet)
    ordering_fields = ["id", "name", "employee_count", "model_score__in_market"]
    ordering = ["-id"]
    extra_query_params = ["scope"]

    def get_queryset(self):
        return selectors.my_accounts(user=self.request.user, scope=_scope(self.request))


class MyQueueView(APIView):
    """Your queue: MQLs to accept, accounts newly qualified since you last marked the queue seen (at
    most 14 days back), and plays due (your open tasks, or your teams', by due date)."""

    required_permissions = ["accounts.view_account", "accounts.view_contact"]

    @extend_schema(parameters=[SCOPE_PARAMETER], responses=serializers.QueueSerializer)
    def get(self, request):
        scope = _scope(request)
        since, marked = selectors.queue_since(user=request.user)
        mqls = selectors.queue_mqls(user=request.user, scope=scope)
        qualified = selectors.queue_newly_qualified(user=request.user, since=since, scope=scope)
        limit = selectors.QUEUE_SECTION_LIMIT
        plays = tasks_for(user=request.user, scope=scope).order_by("due_on", "id")
        data = {
            "scope": scope,
            "mqls_to_accept": {"count": mqls.count(), "items": list(mqls[:limit])},
            "newly_qualified": {
                "count": qualified.count(), "since": since, "since_marked": marked,
                "items": list(qualified[:limit]),
            },
            "plays_due": {"count": plays.count(), "items": list(plays[:limit])},
        }  # fmt: skip
        return Response(serializers.QueueSerializer(data).data)


class MyQueueSeenView(APIView):
    """Mark your queue seen: newly qualified accounts are counted from now."""

    required_permissions = ["accounts.view_account"]

    @extend_schema(request=None, responses=serializers.QueueSeenSerializer)
    def post(self, request):
        seen = services.queue_mark_seen(user=request.user)
        return Response({"seen_at": seen.seen_at})
