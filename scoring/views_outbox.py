"""The scoring outbox's parked rows: changes whose rescoring failed every attempt, with the error in words,
and a replay button (revenue operations). See ``scoring.rescore.outbox_drain``."""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from .rescore import OUTBOX_ATTEMPTS, outbox_parked, outbox_pending, outbox_replay, outbox_waiting

SHOWN = 200


class OutboxView(PermissionRequiredMixin, TemplateView):
    """Parked rows (newest first), rows waiting for a retry, and how many are pending."""

    permission_required = "scoring.view_scoringoutbox"
    template_name = "scoring/outbox.html"

    def get_context_data(self, **kwargs):
        waiting, parked = outbox_waiting(), outbox_parked()
        return super().get_context_data(
            parked=parked.order_by("-parked_at", "-id")[:SHOWN],
            parked_count=parked.count(),
            waiting=waiting[:SHOWN],
            pending_count=outbox_pending().count(),
            attempts=OUTBOX_ATTEMPTS,
            can_replay=self.request.user.has_perm("scoring.change_scoringoutbox"),
            **kwargs,
        )


class OutboxReplayView(PermissionRequiredMixin, View):
    """Replay the chosen parked rows (or all of them): fresh attempts, audited."""

    permission_required = "scoring.change_scoringoutbox"

    def post(self, request: HttpRequest) -> HttpResponse:
        parked = outbox_parked()
        if "all" not in request.POST:
            ids = [int(v) for v in request.POST.getlist("row") if v.isdigit()]
            parked = parked.filter(pk__in=ids)
        count = outbox_replay(actor=request.user, rows=list(parked))
        if count:
            messages.success(request, f"{count} row{'s' if count != 1 else ''} queued again for scoring.")
        else:
            messages.info(request, "Nothing to replay: no parked row was chosen.")
        return redirect("scoring:outbox")
