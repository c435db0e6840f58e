"""The rules and lifecycle pages: versions, the editor, approvals, what-if, the funnel, rescoring, and
the lifecycle decisions on a contact.

Thin views: reads are a few bounded queries, writes call ``scoring.workflow``, ``scoring.lifecycle``,
``scoring.whatif`` and ``scoring.rescore``; the services decide what is allowed (states, four eyes,
teams) and their ``WorkflowError`` / ``PermissionDenied`` messages are shown to the user as they are.
The views only check the Django permission of the role, so an outsider gets a 403 before any service.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from accounts.choices import EventType, LifecycleStage
from accounts.models import Contact
from revops.models import JobRun
from revops.views import job_start_say
from scoring import lifecycle, metrics, pipeline, selectors, workflow
from scoring.choices import RuleKind, RuleOperator, RulesetStatus
from scoring.exceptions import PreconditionRequired, RulesetConflict, RulesetNotEditable, WorkflowError
from scoring.forms import (
    CommentForm,
    ContactRecycleForm,
    ContactRejectForm,
    DraftCreateForm,
    FunnelForm,
    PublishForm,
    QualifyForm,
    ReasonForm,
    RejectForm,
    RuleForm,
    RuleFormSet,
    RulesetDefinitionForm,
    WhatIfForm,
    rule_value_text,
    ruleset_snapshot,
    setting_label,
    snapshot_diff,
    snapshot_load,
    snapshot_merge,
)
from scoring.models import Ruleset, WhatIfRun
from scoring.rescore import OUTBOX_ATTEMPTS, outbox_parked, outbox_pending, outbox_replay, outbox_waiting
from scoring.whatif import whatif_run_start

RULE_PREFIX = "rules"
MAX_VERSIONS = 200
MAX_HISTORY = 200
MAX_CAMPAIGN_CHOICES = 500


def _error_text(exc: Exception) -> str:
    """What a service said, as one line for a message."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You are not allowed to do this."


def _versions():
    """Every version, newest first, for drop-downs (bounded; versions are few)."""
    return selectors.ruleset_versions(limit=MAX_VERSIONS)


def _get_ruleset(request: HttpRequest, pk: int, *related: str) -> Ruleset:
    return selectors.ruleset_get(user=request.user, pk=pk, related=related)


def _display(value: Any) -> str:
    """A setting or rule value as text: lists joined, ranges as min-max, nothing as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:g}"
    return rule_value_text(value)


def _rule_get(rule: Any, name: str) -> Any:
    return rule.get(name) if isinstance(rule, dict) else getattr(rule, name, None)


def _rule_summary(rule: Any) -> str:
    """One line describing a rule (a ``Rule`` or a dict): its condition and its points."""
    points = _rule_get(rule, "points")
    points_text = f"{points:+g} points" if isinstance(points, int | float) else ""
    if _rule_get(rule, "kind") == "fit":
        operator = dict(RuleOperator.choices).get(_rule_get(rule, "operator") or "", "")
        condition = f"{_rule_get(rule, 'field') or ''} {operator} {_display(_rule_get(rule, 'value'))}"
        return f"Fit: {condition.strip()}, {points_text}"
    parts = [dict(EventType.choices).get(_rule_get(rule, "event_type") or "", "any event")]
    if _rule_get(rule, "url_pattern"):
        parts.append(f"URL {_rule_get(rule, 'url_pattern')}")
    if _rule_get(rule, "topic"):
        parts.append(f"topic {_rule_get(rule, 'topic')}")
    each = "each time" if _rule_get(rule, "repeatable") else "once"
    return f"Engagement: {' '.join(parts)}, {points_text} {each}".strip()


RULE_FIELD_LABELS = {
    "kind": "kind",
    "field": "field",
    "operator": "operator",
    "value": "value",
    "event_type": "event type",
    "url_pattern": "URL pattern",
    "topic": "topic",
    "campaign": "campaign",
    "campaign_id": "campaign",
    "min_count": "minimum count",
    "window_days": "window (days)",
    "points": "points",
    "repeatable": "repeatable",
    "cap": "cap",
    "half_life_days": "half-life (days)",
    "position": "position",
    "name": "name",
}


def diff_for_display(diff: dict[str, Any], mine: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``ruleset_diff``-shaped diff with every value as text; ``mine`` adds the editor's values."""
    settings = [
        {
            **change,
            "label": change.get("label") or setting_label(change["field"]),
            "old": _display(change.get("old")),
            "new": _display(change.get("new")),
            "mine": _display((mine or {}).get(change["field"])) if mine is not None else "",
        }
        for change in diff.get("settings") or []
    ]
    rules = diff.get("rules") or {}
    return {
        "settings": settings,
        "rules": {
            "added": [
                {"name": _rule_get(r, "name"), "summary": _rule_summary(r)} for r in rules.get("added", [])
            ],
            "removed": [
                {"name": _rule_get(r, "name"), "summary": _rule_summary(r)} for r in rules.get("removed", [])
            ],
            "changed": [
                {
                    "name": r.get("name"),
                    "changes": [
                        {
                            "label": RULE_FIELD_LABELS.get(c.get("field"), c.get("field")),
                            "old": _display(c.get("old")),
                            "new": _display(c.get("new")),
                        }
                        for c in r.get("changes", [])
                    ],
                }
                for r in rules.get("changed", [])
            ],
        },
    }


def _detail_items(detail: Any) -> list[tuple[str, str]]:
    """A history entry's detail as a few ``key: value`` pairs: an edit's changed settings by label and
    its rules as counts, other values shortened."""
    if not isinstance(detail, dict):
        return []
    items = []
    for key, value in list(detail.items())[:6]:
        if key == "settings" and isinstance(value, list):
            text = ", ".join(str(c.get("label") or c.get("field")) for c in value if isinstance(c, dict))
            if not text:
                continue
        elif key == "rules" and isinstance(value, dict):
            counts = [(len(value.get(k) or []), k) for k in ("added", "removed", "changed")]
            text = ", ".join(f"{n} {what}" for n, what in counts if n)
            if not text:
                continue
        elif isinstance(value, dict):
            continue
        else:
            text = _display(value)
        items.append((str(key).replace("_", " "), text if len(text) <= 120 else text[:117] + "…"))
    return items


# --- the versions ---------------------------------------------------------------------------------
class RulesetListView(PermissionRequiredMixin, TemplateView):
    """Every version with its status, which one is live, its approvals; "New draft" and "Rescore all"."""

    permission_required = "scoring.view_ruleset"
    template_name = "scoring/ruleset_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        versions = selectors.ruleset_overview(user=user, limit=MAX_VERSIONS)
        live = next((v for v in versions if v.status == RulesetStatus.PUBLISHED), None)
        context.update(
            {
                "versions": versions,
                "live": live,
                "draft_form": DraftCreateForm(
                    versions=selectors.ruleset_choices(), initial={"based_on": live}
                ),
                "can_create": user.has_perm("scoring.add_ruleset"),
                "can_rescore": user.has_perm("scoring.rescore_contacts"),
            }
        )
        return context


class RulesetCreateView(PermissionRequiredMixin, View):
    """Start a draft from a version (the published one by default) and open it in the editor."""

    permission_required = "scoring.add_ruleset"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = DraftCreateForm(request.POST, versions=selectors.ruleset_choices())
        if not form.is_valid():
            messages.error(request, "Choose an existing version to start from.")
            return redirect("scoring:ruleset_list")
        based_on = form.cleaned_data["based_on"]
        if based_on is None and "based_on" not in request.POST:
            based_on = selectors.published_ruleset()
        try:
            draft = workflow.ruleset_draft_create(
                user=request.user, based_on=based_on, name=form.cleaned_data["name"] or None
            )
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, _error_text(exc))
            return redirect("scoring:ruleset_list")
        messages.success(request, f"Draft v{draft.number} created. Edit it, then propose it for approval.")
        return redirect("scoring:ruleset_edit", pk=draft.pk)


WORKFLOW_BUTTONS = ("edit", "propose", "withdraw", "approve", "reject", "publish", "schedule", "rollback")


def _ruleset_actions(user, ruleset: Ruleset) -> dict[str, bool]:
    """Which workflow buttons to offer: only the steps the user may take now (``actions_for``: a
    proposer never sees Approve, nor a lead who approved already); the services still decide."""
    allowed = workflow.RULESETS.actions_for(user, ruleset)
    return {
        **{name: name in allowed for name in WORKFLOW_BUTTONS},
        "new_draft": user.has_perm("scoring.add_ruleset"),
        "comment": user.has_perm("scoring.add_rulesetcomment"),
        "whatif": user.has_perm("scoring.view_whatifrun"),
    }


class RulesetDetailView(PermissionRequiredMixin, TemplateView):
    """One version: its definition, rules, approvals, comments, history, buttons and a diff."""

    permission_required = "scoring.view_ruleset"
    template_name = "scoring/ruleset_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        ruleset = selectors.ruleset_detail_get(user=user, pk=self.kwargs["pk"])
        rules = sorted(ruleset.rules.all(), key=lambda r: (r.position, r.pk))
        versions = [v for v in _versions() if v.pk != ruleset.pk]
        diff_param = request.GET.get("diff", "")
        diff_id = int(diff_param) if diff_param.isdigit() else ruleset.based_on_id
        # The whole row (the drop-down's rows carry only their labels); both versions' rules are prefetched.
        diff_against = selectors.ruleset_compared(user=user, pk=diff_id, ruleset=ruleset)
        for rule in rules:
            rule.value_text = rule_value_text(rule.value)
        history = selectors.ruleset_history(ruleset, limit=MAX_HISTORY)
        for entry in history:
            entry.detail_items = _detail_items(entry.detail)
        diff = selectors.ruleset_diff(old=diff_against, new=ruleset) if diff_against else None
        context.update(
            {
                "ruleset": ruleset,
                "object": ruleset,
                "fit_rules": [r for r in rules if r.kind == "fit"],
                "engagement_rules": [r for r in rules if r.kind == "engagement"],
                "rule_count": len(rules),
                "approvals": list(ruleset.approvals.select_related("user").order_by("id")),
                "comments": selectors.ruleset_comments(ruleset),
                "history": history,
                "versions": versions,
                "diff_against": diff_against,
                "diff": diff_for_display(diff) if diff else None,
                "diff_old_label": f"v{diff_against.number}" if diff_against else "",
                "diff_new_label": f"v{ruleset.number}",
                "time_zone": timezone.get_current_timezone_name(),
                "actions": _ruleset_actions(user, ruleset),
                "comment_form": CommentForm(),
                "reject_form": RejectForm(),
                "publish_form": PublishForm(),
            }
        )
        return context


class RulesetCommentView(PermissionRequiredMixin, View):
    """Add a comment to a version (any status: the discussion goes on after publication)."""

    permission_required = "scoring.add_rulesetcomment"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ruleset = _get_ruleset(request, pk)
        form = CommentForm(request.POST)
        if form.is_valid():
            try:
                workflow.ruleset_comment_add(
                    ruleset=ruleset, user=request.user, body=form.cleaned_data["body"]
                )
                messages.success(request, "Comment added.")
            except (WorkflowError, PermissionDenied, ValidationError) as exc:
                messages.error(request, _error_text(exc))
        else:
            messages.error(request, "A comment cannot be empty.")
        return HttpResponseRedirect(reverse("scoring:ruleset_detail", kwargs={"pk": pk}) + "#comments")


class RulesetActionView(PermissionRequiredMixin, View):
    """The workflow buttons: propose, withdraw, approve, reject, publish (now or at a time), roll back."""

    ACTIONS: dict[str, str] = {
        "propose": "scoring.change_ruleset",
        "withdraw": "scoring.change_ruleset",
        "approve": "scoring.approve_ruleset",
        "reject": "scoring.approve_ruleset",
        "publish": "scoring.publish_ruleset",
        "rollback": "scoring.publish_ruleset",
    }
    DONE = {
        "propose": "Proposed for approval by marketing and sales.",
        "withdraw": "Withdrawn: it is a draft again.",
        "approve": "Approved.",
        "reject": "Rejected: it is a draft again, with your reason in its history.",
        "publish": "Published: it is the live version now.",
        "rollback": "Rolled back: this version is live again.",
    }

    def get_permission_required(self) -> tuple[str, ...]:
        action = self.kwargs.get("action")
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        return (self.ACTIONS[action],)

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        ruleset = _get_ruleset(request, pk)
        user = request.user
        done = self.DONE[action]
        try:
            if action == "propose":
                workflow.ruleset_propose(ruleset=ruleset, user=user)
            elif action == "withdraw":
                workflow.ruleset_withdraw(ruleset=ruleset, user=user)
            elif action == "approve":
                workflow.ruleset_approve(ruleset=ruleset, user=user)
            elif action == "reject":
                form = RejectForm(request.POST)
                if not form.is_valid():
                    messages.error(request, "Say why it is rejected: the authors need to know.")
                    return redirect("scoring:ruleset_detail", pk=pk)
                workflow.ruleset_reject(ruleset=ruleset, user=user, reason=form.cleaned_data["reason"])
            elif action == "publish":
                form = PublishForm(request.POST)
                if not form.is_valid():
                    messages.error(request, " ".join(form.errors.get("at", ["Not a valid date and time."])))
                    return redirect("scoring:ruleset_detail", pk=pk)
                at = form.cleaned_data["at"]
                workflow.ruleset_publish(ruleset=ruleset, user=user, at=at)
                if at is not None:
                    done = f"Scheduled: it goes live on {timezone.localtime(at):%-d %b %Y %H:%M}."
            elif action == "rollback":
                workflow.ruleset_rollback(target=ruleset, user=user)
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, done)
        return redirect("scoring:ruleset_detail", pk=pk)


# --- the editor -----------------------------------------------------------------------------------
def _campaign_choices() -> list[tuple[int, str]]:
    return selectors.campaign_choices(limit=MAX_CAMPAIGN_CHOICES)


class RulesetEditView(PermissionRequiredMixin, View):
    """Edit a draft: the definition form and the rules formset, saved together through ``ruleset_update``.

    The form carries the revision it was read at. If someone saved in between (``RulesetConflict``), the
    page comes back with the user's values untouched, what the other person changed, and the current
    revision, so that saving again applies the user's edit on top; "Merge" keeps their changes where
    the user changed nothing.
    """

    permission_required = "scoring.change_ruleset"
    template_name = "scoring/ruleset_edit.html"

    def get_ruleset(self) -> Ruleset:
        return _get_ruleset(self.request, self.kwargs["pk"], "based_on")

    def not_editable(self, ruleset: Ruleset) -> HttpResponse:
        messages.warning(
            self.request,
            f"v{ruleset.number} is {ruleset.get_status_display().lower()}: only drafts can be edited. "
            "Start a new draft from it instead.",
        )
        return redirect("scoring:ruleset_detail", pk=ruleset.pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        ruleset = self.get_ruleset()
        if not ruleset.is_editable:
            return self.not_editable(ruleset)
        snapshot = ruleset_snapshot(ruleset, list(ruleset.rules.order_by("position", "id")))
        return self.render_editor(ruleset, *self.unbound_forms(ruleset, snapshot))

    def unbound_forms(self, ruleset: Ruleset, snapshot: dict, *, rules: list | None = None, settings=None):
        form = RulesetDefinitionForm(initial=RulesetDefinitionForm.initial_for(ruleset, snapshot, settings))
        formset = RuleFormSet(
            prefix=RULE_PREFIX,
            initial=[RuleForm.initial_for(r) for r in (snapshot["rules"] if rules is None else rules)],
            form_kwargs={"campaign_choices": _campaign_choices()},
        )
        return form, formset

    def bound_forms(self, data: QueryDict):
        form = RulesetDefinitionForm(data)
        formset = RuleFormSet(data, prefix=RULE_PREFIX, form_kwargs={"campaign_choices": _campaign_choices()})
        return form, formset

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ruleset = self.get_ruleset()
        if not ruleset.is_editable:
            return self.not_editable(ruleset)
        form, formset = self.bound_forms(request.POST)
        if not (form.is_valid() and formset.is_valid()):
            return self.render_editor(ruleset, form, formset, status=400)
        if "merge" in request.POST:
            return self.merge(ruleset, form, formset)
        rules = formset.service_rules()
        try:
            saved = workflow.ruleset_update(
                ruleset=ruleset,
                user=request.user,
                expected_revision=form.cleaned_data["revision"],
                data=form.service_data(),
                rules=rules,
            )
        except RulesetConflict as exc:
            return self.conflict(exc.current, form, formset)
        except RulesetNotEditable:
            return self.not_editable(ruleset)
        except PreconditionRequired as exc:
            form.add_error(None, str(exc))
            return self.render_editor(ruleset, form, formset, status=428)
        except ValidationError as exc:
            self.add_service_errors(exc, form, formset)
            return self.render_editor(ruleset, form, formset, status=400)
        except (WorkflowError, PermissionDenied) as exc:
            form.add_error(None, _error_text(exc))
            return self.render_editor(ruleset, form, formset, status=400)
        messages.success(request, f"Saved v{saved.number} (revision {saved.revision}).")
        return redirect("scoring:ruleset_detail", pk=saved.pk)

    @staticmethod
    def add_service_errors(exc: ValidationError, form, formset) -> None:
        """Put each message of the service next to its field or its rule row (``rules[3].points``)."""
        errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        kept = formset.kept_forms()
        for key, field_errors in errors.items():
            if key and key.startswith("rules["):
                index_text, _, field = key[len("rules[") :].partition("]")
                field = field.lstrip(".")
                if index_text.isdigit() and int(index_text) < len(kept):
                    rule_form = kept[int(index_text)]
                    rule_form.add_error(field if field in rule_form.fields else None, field_errors)
                    continue
                form.add_error(None, [f"Rule {index_text}: {m}" for m in field_errors])
            elif key in form.fields:
                form.add_error(key, field_errors)
            elif key == "rules":
                formset._non_form_errors = formset.error_class(list(field_errors))  # shown above the rules
            else:
                form.add_error(None, field_errors)

    def mine(self, form, formset) -> dict[str, Any]:
        return {"settings": form.service_data(), "rules": formset.service_rules()}

    def conflict(self, current: Ruleset, form, formset) -> HttpResponse:
        """The edit was stale: keep the user's values, show what changed meanwhile, move to ``current``.

        The form comes back with the user's values and ``current``'s revision, so saving again puts
        the user's edit on top; rows of rules the other editor deleted become new rules. The snapshot
        of the version the user started from stays in the form: "Merge" needs it.
        """
        if not current.is_editable:
            return self.not_editable(current)
        started_at = form.cleaned_data["revision"]
        base = snapshot_load(form.cleaned_data.get("base_snapshot", ""))
        current_rules = list(current.rules.order_by("position", "id"))
        theirs = ruleset_snapshot(current, current_rules)
        mine = self.mine(form, formset)
        data = self.request.POST.copy()
        # The version the user started from stays the merge base; only the revision moves on.
        data["revision"] = str(current.revision)
        current_ids = {str(rule.pk) for rule in current_rules}
        for rule_form in formset.forms:
            key = rule_form.add_prefix("id")
            if data.get(key) and data[key] not in current_ids:
                data[key] = ""
        form, formset = self.bound_forms(data)
        form.is_valid()
        formset.is_valid()
        diff = snapshot_diff(base, theirs) if base else None
        started_at = base["revision"] if base else started_at
        conflict = {
            # The service's message says to reload; here nothing needs reloading, so say what happened.
            "message": (
                f"v{current.number} was saved by someone else while you were editing it: you started from "
                f"revision {started_at}, it is now at revision {current.revision}."
            ),
            "started_at": started_at,
            "revision": current.revision,
            "saves": selectors.ruleset_changes_since(ruleset=current, revision=started_at),
            "diff": diff_for_display(diff, mine=mine["settings"]) if diff else None,
            "can_merge": diff is not None,
        }
        return self.render_editor(current, form, formset, conflict=conflict, status=409)

    def merge(self, ruleset: Ruleset, form, formset) -> HttpResponse:
        """Re-apply the user's changes (relative to the version they started from) onto the current one."""
        base = snapshot_load(form.cleaned_data.get("base_snapshot", ""))
        current = selectors.ruleset_fresh(ruleset)
        theirs = ruleset_snapshot(current, list(current.rules.order_by("position", "id")))
        if base is None:
            form.add_error(None, "The version you started from is unknown; reload the editor.")
            return self.render_editor(ruleset, form, formset, status=400)
        merged, both_changed = snapshot_merge(base=base, mine=self.mine(form, formset), theirs=theirs)
        form, formset = self.unbound_forms(
            current, theirs, rules=merged["rules"], settings=merged["settings"]
        )
        if both_changed:
            messages.warning(
                self.request,
                "You and the other editor both changed: "
                + ", ".join(both_changed)
                + ". Your values are kept.",
            )
        messages.info(
            self.request,
            f"Your changes are applied on top of revision {current.revision}. Check them, then save.",
        )
        return self.render_editor(current, form, formset)

    def render_editor(self, ruleset: Ruleset, form, formset, *, conflict=None, status: int = 200):
        context = {
            "ruleset": ruleset,
            "form": form,
            "formset": formset,
            "conflict": conflict,
            "next_index": formset.total_form_count(),
            "rule_prefix": RULE_PREFIX,
            "rule_field_paths": [
                *workflow.CONTACT_FIELD_PATHS,
                *(f"account.{path}" for path in workflow.ACCOUNT_FIELD_PATHS),
                "custom.",
                "account.custom.",
            ],
        }
        return render(self.request, self.template_name, context, status=status)


class RuleRowView(PermissionRequiredMixin, View):
    """An empty rule row for the editor (htmx "Add a rule"), with the formset's new total out of band."""

    permission_required = "scoring.change_ruleset"

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            index = max(0, min(int(request.GET.get("index", "0")), 999))
        except ValueError:
            index = 0
        kind = request.GET.get("kind", "engagement")
        kind = kind if kind in RuleKind.values else RuleKind.ENGAGEMENT
        initial = {"kind": kind, "min_count": 1}
        if kind == RuleKind.ENGAGEMENT:  # counts the last 90 days, halving every 30 (see the workflow)
            initial.update(workflow.NEW_ENGAGEMENT_RULE_DEFAULTS)
        formset = RuleFormSet(prefix=RULE_PREFIX)
        rule_form = RuleForm(
            prefix=formset.add_prefix(index),
            initial=initial,
            empty_permitted=True,
            use_required_attribute=False,
            campaign_choices=_campaign_choices(),
        )
        formset.add_fields(rule_form, index)  # the "remove" box
        context = {"rule_form": rule_form, "next_index": index + 1, "rule_prefix": RULE_PREFIX, "oob": True}
        return render(request, "scoring/includes/rule_row.html", context)


# --- what-if --------------------------------------------------------------------------------------
def _whatif_context(run: WhatIfRun | None) -> dict[str, Any]:
    """Chart data and tables from a finished run's ``result``."""
    if run is None or run.status != "succeeded" or not run.result:
        return {}
    result = run.result
    weeks = result.get("weeks") or []
    ruleset_label = f"v{(result.get('ruleset') or {}).get('number', run.ruleset_id)}"
    baseline_label = f"v{(result.get('baseline') or {}).get('number', run.baseline_id)}"

    def series(which: str, metric: str) -> list[int]:
        return [(w.get(which) or {}).get(metric, 0) for w in weeks]

    chart = {
        "labels": [w.get("week", "") for w in weeks],
        "datasets": [
            {"label": f"MQLs, {ruleset_label} (this version)", "values": series("draft", "mql"), "colour": 0},
            {"label": f"MQLs, {baseline_label} (baseline)", "values": series("baseline", "mql"), "colour": 1},
            {
                "label": f"SALs, {ruleset_label}",
                "values": series("draft", "sal"),
                "type": "line",
                "colour": 2,
            },
            {
                "label": f"SALs, {baseline_label}",
                "values": series("baseline", "sal"),
                "type": "line",
                "colour": 3,
                "dashed": True,
            },
        ],
    }
    totals = result.get("totals") or {}
    metrics = [("mql", "MQL"), ("sal", "SAL"), ("sql", "SQL"), ("opportunity", "Opportunity"), ("won", "Won")]
    total_rows = []
    for key, label in metrics:
        draft_n = (totals.get("draft") or {}).get(key)
        base_n = (totals.get("baseline") or {}).get(key)
        delta = (
            draft_n - base_n if isinstance(draft_n, int | float) and isinstance(base_n, int | float) else None
        )
        total_rows.append({"key": key, "label": label, "draft": draft_n, "baseline": base_n, "delta": delta})
    breakdown_metrics = [("mql", "MQL"), ("sql", "SQL"), ("opportunity", "Opp."), ("won", "Won")]

    def breakdown(rows: list[dict], key: str) -> list[dict[str, Any]]:
        return [
            {
                "name": row.get(key) or "—",
                "cells": [
                    ((row.get("draft") or {}).get(m), (row.get("baseline") or {}).get(m))
                    for m, _ in breakdown_metrics
                ],
            }
            for row in rows or []
        ]

    return {
        "result": result,
        "chart": chart,
        "by_channel": breakdown(result.get("by_channel"), "channel"),
        "by_segment": breakdown(result.get("by_segment"), "segment"),
        "total_rows": total_rows,
        "ruleset_label": ruleset_label,
        "baseline_label": baseline_label,
        "breakdown_metrics": breakdown_metrics,
    }


class WhatIfView(PermissionRequiredMixin, TemplateView):
    """Replay a version over the past N days against a baseline; progress, then chart and tables."""

    template_name = "scoring/whatif.html"

    def get_permission_required(self) -> tuple[str, ...]:
        if self.request.method == "POST":
            return ("scoring.view_ruleset", "scoring.add_whatifrun")
        return ("scoring.view_ruleset", "scoring.view_whatifrun")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ruleset = kwargs.get("ruleset") or _get_ruleset(self.request, self.kwargs["pk"])
        versions = selectors.ruleset_choices(excluding=ruleset)
        runs = selectors.whatif_runs(ruleset)
        run = None
        run_param = self.request.GET.get("run", "")
        if run_param.isdigit():
            run = runs.filter(pk=int(run_param)).first()
        if run is None:
            run = runs.order_by("-created", "-id").first()
        form = kwargs.get("form")
        if form is None:
            default_baseline = selectors.published_ruleset()
            if default_baseline is None or default_baseline.pk == ruleset.pk:
                default_baseline = ruleset.based_on
            form = WhatIfForm(
                versions=versions,
                initial={
                    "days": run.days if run else 90,
                    "baseline": run.baseline if run else default_baseline,
                },
            )
        context.update(
            {
                "ruleset": ruleset,
                "form": form,
                "run": run,
                "recent_runs": list(runs.order_by("-created", "-id")[:10]),
                "can_run": self.request.user.has_perm("scoring.add_whatifrun"),
                **_whatif_context(run),
            }
        )
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ruleset = _get_ruleset(request, pk)
        form = WhatIfForm(request.POST, versions=selectors.ruleset_choices(excluding=ruleset))
        if not form.is_valid():
            context = self.get_context_data(ruleset=ruleset, form=form)
            return self.render_to_response(context, status=400)
        try:
            run = whatif_run_start(
                ruleset=ruleset,
                user=request.user,
                days=form.cleaned_data["days"],
                baseline=form.cleaned_data["baseline"],
            )
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, _error_text(exc))
            return redirect("scoring:ruleset_whatif", pk=pk)
        run.refresh_from_db()
        if run.status == "failed" and run.error.startswith("Not started:"):
            messages.error(request, run.error)
        elif getattr(run, "existing", False):
            messages.info(request, "The same what-if run is already queued or running: here it is.")
        return HttpResponseRedirect(reverse("scoring:ruleset_whatif", kwargs={"pk": pk}) + f"?run={run.pk}")


class WhatIfStatusView(PermissionRequiredMixin, View):
    """A run's progress as an htmx fragment; when it is done, the page reloads with the results."""

    permission_required = "scoring.view_whatifrun"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = selectors.whatif_run_get(user=request.user, pk=pk)
        response = render(request, "scoring/includes/whatif_progress.html", {"run": run})
        if run.status in ("succeeded", "failed"):
            response["HX-Redirect"] = (
                reverse("scoring:ruleset_whatif", kwargs={"pk": run.ruleset_id}) + f"?run={run.pk}"
            )
        return response


class WhatIfIndexView(PermissionRequiredMixin, View):
    """The navigation's "What-if": the newest draft's what-if page (or the live version's)."""

    permission_required = ("scoring.view_ruleset", "scoring.view_whatifrun")

    def get(self, request: HttpRequest) -> HttpResponse:
        target = selectors.ruleset_for_whatif()
        if target is None:
            messages.info(request, "There is no version yet: create a draft first.")
            return redirect("scoring:ruleset_list")
        return redirect("scoring:ruleset_whatif", pk=target.pk)


# --- the lifecycle funnel -------------------------------------------------------------------------
class FunnelView(PermissionRequiredMixin, TemplateView):
    """Conversion and velocity between lifecycle stages over a date range, as a table and a chart."""

    permission_required = "scoring.view_lifecycletransition"
    template_name = "scoring/funnel.html"
    DEFAULT_DAYS = 90

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        defaults = {"since": today - datetime.timedelta(days=self.DEFAULT_DAYS), "until": today}
        form = FunnelForm({**defaults, **self.request.GET.dict()} if self.request.GET else defaults)
        funnel = reasons = conversion = as_of = None
        if form.is_valid():
            since, until = form.cleaned_data["since"], form.cleaned_data["until"]
            # Hundreds of thousands of moves in a window: kept until a move or a contact is added (or a
            # full rescore, or METRICS_KEEP_SECONDS), and shown "as of" when counted.
            (funnel, conversion, reasons), as_of = metrics.figure_kept(
                f"funnel:{since.isoformat()}:{until.isoformat()}",
                lambda: _funnel_figures(since, until),
                version=metrics.lifecycle_version,
            )
        steps = _funnel_steps(funnel)
        context.update(
            {
                "form": form,
                "funnel": funnel,
                "as_of": as_of,
                "keep_minutes": settings.METRICS_KEEP_SECONDS // 60,
                "reasons": reasons,
                "reason_tables": [
                    {"decision": decision, "title": title, **reasons[decision]}
                    for decision, title in (("reject", "rejected"), ("recycle", "recycled"))
                ]
                if reasons
                else [],
                "steps": steps,
                "entries": _funnel_entries(funnel),
                "conversion": conversion,
                "now": _stages_now(self.request.user),
                "chart": {
                    "labels": [s["label"] for s in steps],
                    "datasets": [
                        {
                            "label": "Entered the first stage in the period",
                            "values": [s["entered"] or 0 for s in steps],
                            "colour": 0,
                        },
                        {
                            "label": "Of them, reached the next stage",
                            "values": [s["converted"] or 0 for s in steps],
                            "colour": 1,
                        },
                    ],
                },
            }
        )
        return context


def _funnel_figures(since: datetime.date, until: datetime.date) -> tuple[dict, dict, dict]:
    """The funnel, the conversion chain and the reasons of the window (PostgreSQL's JIT off for them)."""
    with metrics.without_jit():
        return (
            metrics.lifecycle_funnel(since=since, until=until),
            metrics.funnel_conversion(since=since, until=until),
            selectors.lifecycle_reasons(since=since, until=until),
        )


def _stages_now(user) -> list[dict[str, Any]]:
    """Currently <stage> for every stage, each with the contacts list filtered to it."""
    counts, _as_of = metrics.figure_kept(
        "contacts_by_stage",
        lambda: metrics.contacts_by_stage(user=user),
        user=user,
        version=metrics.lifecycle_version,
    )
    url = reverse("accounts:contact_list")
    return [
        {
            "stage": stage,
            "label": metrics.stage_now_label(stage),
            "contacts": counts[stage],
            "url": f"{url}?lifecycle_stage={stage}",
        }
        for stage in metrics.STAGES
    ]


def _funnel_entries(funnel: dict | None) -> list[dict[str, Any]]:
    """Entered <stage> in the period, with its words ("Entered MQL between … and …")."""
    if not funnel:
        return []
    return [
        {
            "stage": stage,
            "label": metrics.stage_entries_label(stage, funnel["since"], funnel["until"]),
            "contacts": n,
        }
        for stage, n in funnel.get("entries", {}).items()
    ]


def _funnel_steps(funnel: dict | None) -> list[dict[str, Any]]:
    """The selector's steps with a label ("MQL → SAL") and a rate in percent for the template."""
    if not funnel:
        return []
    stages = dict(LifecycleStage.choices)
    steps = []
    for step in funnel.get("steps") or []:
        source, target = step.get("from") or step.get("stage", ""), step.get("to", "")
        label = step.get("label") or (
            f"{stages.get(source, source)} → {stages.get(target, target)}"
            if target
            else stages.get(source, source)
        )
        rate = step.get("rate")
        steps.append(
            {
                **step,
                "label": label,
                "entered": step.get("entered"),
                "converted": step.get("converted"),
                "rate_percent": None if rate is None else round(100 * rate, 1),
                "median_days": step.get("median_days"),
            }
        )
    return steps


# --- rescoring ------------------------------------------------------------------------------------
class RescoreStartView(PermissionRequiredMixin, View):
    """Rescore every contact and account with the published version, as a background job."""

    permission_required = "scoring.rescore_contacts"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ReasonForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        try:
            job = pipeline.full_rescore_schedule(
                user=request.user, reason=reason or "Started from the rules page"
            )
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, _error_text(exc))
            return redirect("scoring:ruleset_list")
        job_start_say(request, job)
        return redirect("scoring:rescore_progress", pk=job.pk)


class RescoreJobMixin(PermissionRequiredMixin):
    permission_required = "scoring.rescore_contacts"

    def get_job(self, pk: int) -> JobRun:
        return selectors.rescore_job_get(pk)


class RescoreProgressView(RescoreJobMixin, View):
    """A rescore's progress bar, refreshed by htmx until the job is finished."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job(pk)
        return render(request, "scoring/rescore_progress.html", {"job": job})


class RescoreStatusView(RescoreJobMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job(pk)
        # Once the job is finished the fragment has no trigger left, so the polling stops.
        return render(request, "scoring/includes/rescore_progress.html", {"job": job})


# --- lifecycle decisions on a contact ------------------------------------------------------------
class ContactLifecycleView(PermissionRequiredMixin, View):
    """Accept, reject, qualify, recycle or reopen a contact, through ``scoring.lifecycle``."""

    permission_required = ("accounts.view_contact", "scoring.add_lifecycletransition")
    DONE = {
        "accept": "Accepted: {name} is a sales-accepted lead.",
        "reject": "Rejected: {name} is {stage} now.",
        "qualify": "Qualified: {name} is a sales-qualified lead.",
        "recycle": "Recycled: {name} goes back to nurturing.",
        "reopen": "Reopened: {name} is {stage} again.",
    }

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if action not in self.DONE:
            raise Http404("No such action.")
        contact = selectors.contact_get(user=request.user, pk=pk)
        back = reverse("accounts:contact_detail", kwargs={"pk": pk}) + "#lifecycle"
        call, error = self.service_call(request, contact, action)
        if error:
            messages.error(request, error)
            return HttpResponseRedirect(back)
        try:
            call()
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, _error_text(exc))
            return HttpResponseRedirect(back)
        contact.refresh_from_db(fields=["lifecycle_stage"])
        name = contact.full_name or contact.email
        messages.success(
            request, self.DONE[action].format(name=name, stage=contact.get_lifecycle_stage_display())
        )
        return HttpResponseRedirect(back)

    @staticmethod
    def service_call(request: HttpRequest, contact: Contact, action: str) -> tuple[Callable | None, str]:
        user = request.user
        if action == "accept":
            form = ReasonForm(request.POST)
            form.is_valid()
            reason = form.cleaned_data.get("reason", "")
            return (lambda: lifecycle.contact_accept(contact=contact, user=user, reason=reason)), ""
        if action == "reject":
            form = ContactRejectForm(request.POST)
            if not form.is_valid():
                return None, "Choose a reason and whether to recycle or disqualify the lead."
            disqualify = form.cleaned_data["outcome"] == "disqualify"
            code, reason = form.cleaned_data["reason_code"], form.cleaned_data["reason"]
            return (
                lambda: lifecycle.contact_reject(
                    contact=contact, user=user, reason_code=code, reason=reason, disqualify=disqualify
                )
            ), ""
        if action == "recycle":
            form = ContactRecycleForm(request.POST)
            if not form.is_valid():
                return None, "Choose a reason for recycling (the note is at most 2,000 characters)."
            code, reason = form.cleaned_data["reason_code"], form.cleaned_data["reason"]
            return (
                lambda: lifecycle.contact_recycle(contact=contact, user=user, reason_code=code, reason=reason)
            ), ""
        if action == "qualify":
            published = selectors.published_ruleset()
            form = QualifyForm(request.POST, checklist=published.sql_checklist if published else [])
            form.is_valid()
            checklist, reason = form.checklist_answers(), form.cleaned_data.get("reason", "")
            return (
                lambda: lifecycle.contact_qualify(
                    contact=contact, user=user, checklist=checklist, reason=reason
                )
            ), ""
        form = ReasonForm(request.POST)
        form.is_valid()
        reason = form.cleaned_data.get("reason", "")
        if not reason:
            return None, "Give a reason: it is kept with the lifecycle change."
        return (lambda: lifecycle.contact_reopen(contact=contact, user=user, reason=reason)), ""


# --- the scoring outbox: changes whose rescoring failed every attempt, and their replay ----------------
OUTBOX_SHOWN = 200


class OutboxView(PermissionRequiredMixin, TemplateView):
    """Parked rows (newest first), rows waiting for a retry, and how many are pending."""

    permission_required = "scoring.view_scoringoutbox"
    template_name = "scoring/outbox.html"

    def get_context_data(self, **kwargs):
        waiting, parked = outbox_waiting(), outbox_parked()
        return super().get_context_data(
            parked=parked.order_by("-parked_at", "-id")[:OUTBOX_SHOWN],
            parked_count=parked.count(),
            waiting=waiting[:OUTBOX_SHOWN],
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
