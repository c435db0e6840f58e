"""The sales desk's pages: my accounts (a list with the accounts list's filters) and my queue."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from accounts.filtersets import AccountFilterSet
from accounts.models import Account
from playbooks.selectors import next_best_actions, tasks_for
from revops.filtersets import WidenedFilterSet
from revops.views import Column, ObjectListView

from . import selectors, services
from .choices import Scope


class ScopeMixin:
    """``?scope=team`` widens "mine" to what my teams own."""

    def scope(self) -> str:
        return selectors.scope_read(self.request.GET.get("scope"))

    def scope_context(self) -> dict[str, Any]:
        return {"scope": self.scope(), "scopes": Scope.choices}


class MyAccountsView(ScopeMixin, ObjectListView):
    """Accounts I own, or my teams own (a toggle), with their stored scores; the accounts list's filters."""

    model = Account
    template_name = "desk/my_accounts.html"
    columns = [
        Column("name", "Account", ("name",)),
        Column("owner", "Owner", ("owner__username",)),
        Column("stage", "Buying stage", ("model_score__stage",)),
        Column("in_market", "In market", ("model_score__in_market",), numeric=True),
        Column("fit", "Profile fit", ("model_score__profile_fit",), numeric=True),
        Column("qualified", "Qualified", ("model_score__qualified",)),
        Column("grade", "Rules grade"),
        Column("industry", "Industry", ("industry",)),
        Column("employees", "Employees", ("employee_count",), numeric=True),
        Column("next", "Next best action"),
    ]
    default_sort = "-in_market"
    primary_filters = ["q", "stage", "qualified", "in_market_band", "deal", "segment"]
    filter_labels = {
        "employees_min": "Employees at least",
        "employees_max": "Employees at most",
        "deal": "Open deal or customer",
        "owner": "Owner",
    }
    filter_choices = {"owner": "user_choices"}
    # The same filters as the accounts list (scores, stage, segment … from the apps above).
    filterset_class = WidenedFilterSet("accounts.account", AccountFilterSet)

    def get_permission_required(self) -> tuple[str, ...]:
        return ("accounts.view_account",)

    def get_queryset(self) -> QuerySet:
        return selectors.my_accounts(user=self.request.user, scope=self.scope())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(self.scope_context())
        # The page's accounts' next best actions: one query for the page, not one per row.
        accounts = list(context["object_list"])
        best = next_best_actions([a.pk for a in accounts])
        for account in accounts:
            account.next_best_action = best.get(account.pk)
        context["object_list"] = accounts
        return context


class MyQueueView(ScopeMixin, PermissionRequiredMixin, TemplateView):
    """MQLs to accept, accounts newly qualified since I last looked (at most 14 days), plays due (my tasks
    or my teams', open, by due date)."""

    template_name = "desk/my_queue.html"
    permission_required = ("accounts.view_account", "accounts.view_contact")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user, scope = self.request.user, self.scope()
        since, marked = selectors.queue_since(user=user)
        mqls = selectors.queue_mqls(user=user, scope=scope)
        qualified = selectors.queue_newly_qualified(user=user, since=since, scope=scope)
        limit = selectors.QUEUE_SECTION_LIMIT
        plays = tasks_for(user=user, scope=scope).order_by("due_on", "id")
        context.update(
            {
                **self.scope_context(),
                "mqls": list(mqls[:limit]),
                "mql_count": mqls.count(),
                "qualified": list(qualified[:limit]),
                "qualified_count": qualified.count(),
                "since": since,
                "since_marked": marked,
                "limit": limit,
                "plays": list(plays[:limit]),
                "plays_count": plays.count(),
                "today": timezone.localdate(),
            }
        )
        return context


class QueueSeenView(PermissionRequiredMixin, View):
    """POST: mark my queue seen: "newly qualified" starts again from now."""

    permission_required = ("accounts.view_account",)

    def post(self, request: HttpRequest) -> HttpResponse:
        services.queue_mark_seen(user=request.user)
        messages.success(request, "Queue marked seen: newly qualified accounts are counted from now.")
        return HttpResponseRedirect(reverse("desk:my_queue"))
