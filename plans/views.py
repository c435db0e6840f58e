"""Web pages for revenue plans: the list (and a new plan), a plan (its numbers, what they imply, each
channel's quota, attainment and the forecast, the workflow), the editor and the workflow's buttons. Thin:
selectors read, services write; buttons show only what the user may do (``PLANS.actions_for``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from revops.admin import error_text
from revops.choices import VersionStatus
from revops.exceptions import WorkflowError

from . import selectors, services
from .forms import CommentForm, PlanCreateForm, PlanEditForm, RejectForm, allocations_from_post
from .models import RevenuePlan
from .reports import attainment_as_dict, figures_as_dict, metrics_window, sales_metrics

MAX_PLANS = 200


def _plan(request: HttpRequest, pk: int) -> RevenuePlan:
    try:
        return selectors.plan_get(user=request.user, pk=pk)
    except ObjectDoesNotExist:
        raise Http404("No such plan.") from None


class PlanListView(PermissionRequiredMixin, TemplateView):
    """Every plan by period and scope: its versions' statuses, the published one's quota."""

    permission_required = "plans.view_revenueplan"
    template_name = "plans/plan_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        status = [s for s in self.request.GET.getlist("status") if s in VersionStatus.values]
        plans = list(selectors.plan_list(user=self.request.user, status=status)[:MAX_PLANS])
        for plan in plans:
            plan.figures = selectors.plan_figures(plan)
        today = timezone.localdate()
        start = today.replace(day=1, month=(today.month - 1) // 3 * 3 + 1)
        if start <= today:
            start = (start + datetime.timedelta(days=95)).replace(day=1)
        context.update(
            {
                "plans": plans,
                "status": status,
                "statuses": VersionStatus.choices,
                "create_form": PlanCreateForm(initial={"period_start": start}),
                "can_create": self.request.user.has_perm("plans.add_revenueplan"),
            }
        )
        return context


class PlanCreateView(PermissionRequiredMixin, View):
    permission_required = "plans.add_revenueplan"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PlanCreateForm(request.POST)
        if not form.is_valid():
            messages.error(request, error_text(ValidationError(form.errors)))
            return redirect("plans:plan_list")
        data = form.cleaned_data
        based_on = None
        if (request.POST.get("based_on") or "").isdigit():
            based_on = _plan(request, int(request.POST["based_on"]))
        try:
            plan = services.plan_draft_create(
                user=request.user,
                period_kind=data["period_kind"],
                period_start=data["period_start"],
                team=data["team"],
                segment=data["segment"],
                based_on=based_on,
                data={"revenue_target": data["revenue_target"]},
            )
        except (ValidationError, PermissionDenied, WorkflowError) as exc:
            messages.error(request, error_text(exc))
            return redirect("plans:plan_list")
        messages.success(request, f"Draft v{plan.number} of {plan.scope_label} created from the history.")
        return redirect("plans:plan_detail", pk=plan.pk)


class PlanDetailView(PermissionRequiredMixin, TemplateView):
    permission_required = "plans.view_revenueplan"
    template_name = "plans/plan_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        plan = _plan(self.request, self.kwargs["pk"])
        figures = selectors.plan_figures(plan)
        attainment = selectors.plan_attainment(plan, figures)
        report = attainment_as_dict(plan, figures, attainment)
        history = selectors.plan_history(plan)
        actions = services.PLANS.actions_for(user, plan)
        diff = services.plan_diff(old=plan.based_on, new=plan) if plan.based_on_id else None
        context.update(
            {
                "plan": plan,
                "object": plan,
                "figures": figures,
                "figures_data": figures_as_dict(figures),
                "report": report,
                "chart_months": _months_chart(report) if attainment else None,
                "chart_cone": _cone_chart(report, figures) if attainment else None,
                "history_figures": plan.history_figures or {},
                "actions": actions,
                "actions_besides_comment": actions - {"comment"},
                "diff": diff,
                "approvals": list(plan.approvals.all()),
                "comments": selectors.plan_comments(plan),
                "history": history,
                "versions": [v for v in selectors.plan_versions(plan) if v.pk != plan.pk],
                "reject_form": RejectForm(),
                "comment_form": CommentForm(),
                "can_create": user.has_perm("plans.add_revenueplan"),
            }
        )
        return context


def _months_chart(report: dict) -> dict:
    return {
        "labels": report["months"],
        "quota": [round(m["quota"]) for m in report["by_month"]],
        "created": [round(m["created"]) for m in report["by_month"]],
        "channels": [
            {"label": row["channel"], "values": [round(m["created"]) for m in row["months"]]}
            for row in report["channels"]
            if row["created"]
        ],
    }


def _cone_chart(report: dict, figures) -> dict:
    """Cumulative quota by month end against pipeline created, and the forecast's cone from today. Today,
    when it falls inside a month of the window, is a point of its own (the quota pro rata to its day): the
    pipeline created so far ends there and the cone starts there, instead of a partial month being drawn
    at its end and the forecast as a lone dot."""
    today = timezone.localdate()
    points: list[tuple[datetime.date, float, float | None]] = []  # day, cumulative quota and created
    quota = created = 0.0
    for month in report["by_month"]:
        year, number = (int(x) for x in month["month"].split("-"))
        first = datetime.date(year, number, 1)
        last = datetime.date(year + number // 12, number % 12 + 1, 1) - datetime.timedelta(days=1)
        last = min(last, figures.creation_window[1])  # the window ends a cycle before the period
        before = quota
        quota += month["quota"]
        created += month["created"]
        if first <= today < last:
            points.append((today, before + month["quota"] * today.day / last.day, created))
            points.append((last, quota, None))
        else:
            points.append((last, quota, created if last <= today else None))
    cone = {p["day"]: p for p in report["forecast"]["cone"]}

    def band(key: str) -> list[float | None]:
        return [round(cone[d.isoformat()][key]) if d.isoformat() in cone else None for d, _, _ in points]

    return {
        "labels": [d.isoformat() for d, _, _ in points],
        "quota": [round(q) for _, q, _ in points],
        "created": [None if c is None else round(c) for _, _, c in points],
        "expected": band("expected"),
        "low": band("low"),
        "high": band("high"),
    }


class PlanEditView(PermissionRequiredMixin, View):
    """Edit a draft: its numbers (overrides need a note) and its channels, saved under the revision read."""

    permission_required = "plans.change_revenueplan"
    template_name = "plans/plan_edit.html"

    def _render(self, request, plan, form, rows, status=200) -> HttpResponse:
        figures = selectors.plan_figures(plan)
        suggested = selectors.suggested_shares(plan, [c.pk for c in selectors.channels()])
        channels = []
        for channel in selectors.channels():
            row = rows.get(channel.pk, {})
            channels.append(
                {
                    "channel": channel,
                    "share": row.get("share", ""),
                    "capacity": row.get("capacity", ""),
                    "note": row.get("note", ""),
                    "suggested": suggested.get(channel.pk),
                }
            )
        context = {
            "plan": plan,
            "form": form,
            "channels": channels,
            "figures": figures,
            "history_figures": plan.history_figures or {},
        }
        return render(request, self.template_name, context, status=status)

    @staticmethod
    def _stored_rows(plan) -> dict[int, dict]:
        return {
            a.channel_id: {
                "share": f"{a.share * 100:g}",
                "capacity": "" if a.capacity is None else f"{a.capacity:f}",
                "note": a.note,
            }
            for a in selectors.plan_allocations(plan)
        }

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = _plan(request, pk)
        if not plan.is_editable:
            messages.error(
                request, f"v{plan.number} is {plan.get_status_display().lower()}: only drafts change."
            )
            return redirect("plans:plan_detail", pk=pk)
        initial = {name: getattr(plan, name) for name in services.PLAN_FIELDS} | {"revision": plan.revision}
        initial = {k: ("" if v is None else v) for k, v in initial.items()}
        return self._render(request, plan, PlanEditForm(initial=initial), self._stored_rows(plan))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = _plan(request, pk)
        form = PlanEditForm(request.POST)
        channels = selectors.channels()
        posted = {
            c.pk: {
                "share": request.POST.get(f"share-{c.pk}", ""),
                "capacity": request.POST.get(f"capacity-{c.pk}", ""),
                "note": request.POST.get(f"note-{c.pk}", ""),
            }
            for c in channels
        }
        if not form.is_valid():
            return self._render(request, plan, form, posted, status=400)
        data = {name: form.cleaned_data[name] for name in services.PLAN_FIELDS}
        data["allocations"] = allocations_from_post(request.POST, channels)
        data["refresh_history"] = form.cleaned_data["refresh_history"]
        try:
            services.plan_update(
                plan=plan, user=request.user, data=data, expected_revision=form.cleaned_data["revision"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in form.fields:
                    form.add_error(field, errors)
                else:
                    form.add_error(None, errors)
            return self._render(request, plan, form, posted, status=400)
        except (WorkflowError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
            return self._render(request, plan, form, posted, status=409)
        messages.success(request, "Saved.")
        return redirect("plans:plan_detail", pk=pk)


class PlanActionView(PermissionRequiredMixin, View):
    """The workflow's buttons: propose, withdraw, approve, reject, publish, roll back, comment, delete."""

    ACTIONS = {
        "propose": "plans.change_revenueplan",
        "withdraw": "plans.change_revenueplan",
        "approve": "plans.approve_revenueplan",
        "reject": "plans.approve_revenueplan",
        "publish": "plans.publish_revenueplan",
        "rollback": "plans.publish_revenueplan",
        "comment": "plans.add_plancomment",
        "delete": "plans.change_revenueplan",
    }
    DONE = {
        "propose": "Proposed: a marketing lead and a sales lead approve it next.",
        "withdraw": "Withdrawn: it is a draft again.",
        "approve": "Approved.",
        "reject": "Rejected: it is a draft again, with your reason in its history.",
        "publish": "Published: it is the period's plan now.",
        "rollback": "Rolled back: this version is the period's plan again.",
        "comment": "Comment added.",
        "delete": "Draft deleted.",
    }

    def get_permission_required(self) -> tuple[str, ...]:
        action = self.kwargs.get("action")
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        return (self.ACTIONS[action],)

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        plan = _plan(request, pk)
        user = request.user
        try:
            if action == "propose":
                services.plan_propose(plan=plan, user=user)
            elif action == "withdraw":
                services.plan_withdraw(plan=plan, user=user)
            elif action == "approve":
                services.plan_approve(plan=plan, user=user)
            elif action == "reject":
                services.plan_reject(plan=plan, user=user, reason=request.POST.get("reason", ""))
            elif action == "publish":
                services.plan_publish(plan=plan, user=user)
            elif action == "rollback":
                services.plan_rollback(target=plan, user=user)
            elif action == "comment":
                services.plan_comment_add(plan=plan, user=user, body=request.POST.get("body", ""))
            elif action == "delete":
                services.plan_delete(plan=plan, user=user)
                messages.success(request, self.DONE[action])
                return redirect("plans:plan_list")
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, self.DONE[action])
        return redirect("plans:plan_detail", pk=pk)


class SalesMetricsView(PermissionRequiredMixin, TemplateView):
    """The metrics sales trusts on one page, each from its one definition (``scoring.metrics``), with a
    link to the list that shows the same number."""

    permission_required = ("accounts.view_contact", "scoring.view_accountmodelscore")
    template_name = "plans/sales_metrics.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            since, until = metrics_window(self.request.GET)
        except ValidationError as exc:
            messages.error(self.request, error_text(exc))
            since, until = metrics_window({})
        data = sales_metrics(user=self.request.user, since=since, until=until)
        velocity = [row for row in data["deal_velocity"]]
        context.update(
            {
                "m": data,
                "personas_as_of": datetime.datetime.fromisoformat(data["persona_engagement_as_of"]),
                "keep_minutes": settings.METRICS_KEEP_SECONDS // 60,
                "since": since,
                "until": until,
                "velocity_chart": {
                    "labels": [row["month"] for row in velocity],
                    "values": [row["median_days"] for row in velocity],
                    "label": "Median days from created to won",
                },
            }
        )
        return context
