"""Admin for scoring data: versions of the rules through the workflow services, scores read-only.

A version is read-only unless it is a draft; edits of a draft (its fields and its rule inlines) are
saved with ``workflow.ruleset_update`` and the admin actions are the versioned-document workflow's
(``revops.admin.VersionedDocumentAdmin`` with ``workflow.RULESETS``), as the UI and the API use it, so
four eyes, both teams' approvals, history and audit apply here too.
"""

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from revops.admin import (
    SERVICE_ERRORS,
    DocumentApprovalInline,
    DocumentCommentInline,
    DocumentHistoryInline,
    ReadOnlyAdmin,
    ServiceSavedAdmin,
    VersionedDocumentAdmin,
    service_failed,
    service_refused,
)
from scoring import workflow
from scoring.models import (
    AccountRuleScore,
    ContactScore,
    ContactScoreHistory,
    DemoGroundTruth,
    LifecycleTransition,
    Rule,
    Ruleset,
    RulesetApproval,
    RulesetComment,
    RulesetHistory,
    ScoringOutbox,
)
from scoring.rescore import outbox_replay
from scoring.selectors import DEFINITION_FIELDS, RULE_FIELDS, ruleset_rules
from scoring.workflow import RULESETS

_RULE_KEY = re.compile(r"^rules\[(\d+)\]\.(\w+)$")


@admin.register(DemoGroundTruth)
class DemoGroundTruthAdmin(admin.ModelAdmin):
    list_display = ["account", "as_of", "horizon_days", "propensity", "fit", "in_market"]
    list_filter = ["as_of", "in_market"]
    raw_id_fields = ["account"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RuleInlineFormSet(BaseInlineFormSet):
    """Checks the whole list of rules with the service's rules, errors next to each row."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = []
        for index, form in enumerate(self.forms):
            if not getattr(form, "cleaned_data", None) or (
                self.can_delete and self._should_delete_form(form)
            ):
                continue
            data = {name: form.cleaned_data.get(name) for name in RULE_FIELDS}
            data["campaign"] = data["campaign"].pk if data["campaign"] is not None else None
            data["id"] = form.instance.pk
            position = form.cleaned_data.get("position")
            rows.append(((position if position is not None else 10**9, index), data, form))
        rows.sort(key=lambda row: row[0])
        rules = [data for _, data, _ in rows]
        try:
            workflow.rules_clean(ruleset=self.instance, rules=rules)
        except ValidationError as exc:
            for key, messages_ in exc.message_dict.items():
                match = _RULE_KEY.match(key)
                if match is None:
                    raise ValidationError(messages_) from exc
                form, field = rows[int(match[1])][2], match[2]
                form.add_error(field if field in form.fields else None, messages_)
            return
        self.service_rules = rules


def new_rule_initial(db_field, formfield):
    """A new rule's form starts with the window and half-life of a new engagement rule (fit rules ignore
    them); an existing rule's form shows its own values, empty included."""
    if formfield is not None and db_field.name in workflow.NEW_ENGAGEMENT_RULE_DEFAULTS:
        formfield.initial = workflow.NEW_ENGAGEMENT_RULE_DEFAULTS[db_field.name]
    return formfield


class RuleInline(admin.TabularInline):
    model = Rule
    formset = RuleInlineFormSet
    extra = 0
    fields = ["position", *RULE_FIELDS]
    raw_id_fields = ["campaign"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return new_rule_initial(db_field, super().formfield_for_dbfield(db_field, request, **kwargs))

    def has_add_permission(self, request, obj=None):
        return obj is not None and obj.is_editable and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Removing a rule from a draft is an edit of the draft (saved by ruleset_update).
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)


class RulesetApprovalInline(DocumentApprovalInline):
    model = RulesetApproval


class RulesetCommentInline(DocumentCommentInline):
    model = RulesetComment


class RulesetHistoryInline(DocumentHistoryInline):
    model = RulesetHistory


class RulesetAddForm(forms.ModelForm):
    """A new draft: which version to copy (default: the published one) and, optionally, a name."""

    class Meta:
        model = Ruleset
        fields = ["based_on", "name"]
        help_texts = {
            "based_on": "Copy this version's definitions and rules. Empty: the published version.",
            "name": "Empty: the copied version's name.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False


class RulesetAdminForm(forms.ModelForm):
    """A draft's definition fields; ``revision`` rides along hidden to catch concurrent edits."""

    class Meta:
        model = Ruleset
        fields = ["revision", *DEFINITION_FIELDS]
        widgets = {"revision": forms.HiddenInput}

    def clean(self):
        cleaned = super().clean()
        data = {name: cleaned[name] for name in DEFINITION_FIELDS if name in cleaned}
        try:
            workflow.ruleset_data_clean(ruleset=self.instance, data=data)
        except ValidationError as exc:
            for field, messages_ in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return cleaned


@admin.register(Ruleset)
class RulesetAdmin(VersionedDocumentAdmin):
    workflow = RULESETS
    list_display = ["number", "name", "status", "revision", "based_on", "published_at", "publish_at"]
    list_display_links = ["number", "name"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    form = RulesetAdminForm
    add_form = RulesetAddForm
    readonly_fields = [
        "number",
        "status",
        "based_on",
        "created_by",
        "proposed_by",
        "proposed_at",
        "publish_at",
        "published_by",
        "published_at",
        "created",
        "updated",
    ]
    fieldsets = [
        (None, {"fields": ["number", "name", "description", "status", "revision", "based_on"]}),
        (
            "Lifecycle definitions",
            {
                "fields": [
                    "sal_enabled",
                    "required_fields",
                    ("mql_fit_min", "mql_engagement_min"),
                    "recycle_engagement_below",
                    ("fit_grade_a_min", "fit_grade_b_min"),
                    ("engagement_grade_1_min", "engagement_grade_2_min"),
                    "exclude_free_mail",
                    "excluded_title_pattern",
                    "excluded_industries",
                    "excluded_countries",
                    "competitor_domains",
                    "fast_track_event_types",
                    "sql_checklist",
                ]
            },
        ),
        (
            "Workflow",
            {
                "fields": [
                    "created_by",
                    "proposed_by",
                    "proposed_at",
                    "publish_at",
                    "published_by",
                    "published_at",
                    "created",
                    "updated",
                ]
            },
        ),
    ]
    inlines = [RuleInline, RulesetApprovalInline, RulesetCommentInline, RulesetHistoryInline]

    # --- permissions (only drafts change; the workflow's actions: VersionedDocumentAdmin) ----------
    def has_add_permission(self, request):
        return super().has_add_permission(request) and workflow.can_edit_rulesets(request.user)

    # --- saving through the services --------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        if change:
            return  # saved with its rules in save_related, through ruleset_update
        try:
            draft = workflow.ruleset_draft_create(
                user=request.user,
                based_on=form.cleaned_data.get("based_on"),
                name=form.cleaned_data.get("name") or None,
            )
        except SERVICE_ERRORS as exc:
            service_failed(request, self, exc)
            return
        self.adopt(obj, draft)

    def save_related(self, request, form, formsets, change):
        if not change or service_refused(request):
            return
        rule_formset = next((fs for fs in formsets if fs.model is Rule), None)
        rules = getattr(rule_formset, "service_rules", None)
        data = {name: form.cleaned_data[name] for name in DEFINITION_FIELDS if name in form.cleaned_data}
        try:
            workflow.ruleset_update(
                ruleset=form.instance,
                user=request.user,
                expected_revision=form.cleaned_data.get("revision"),
                data=data,
                rules=rules,
            )
        except SERVICE_ERRORS as exc:
            service_failed(request, self, exc)


class RuleAdminForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ["ruleset", "position", *RULE_FIELDS]

    def clean(self):
        cleaned = super().clean()
        ruleset = cleaned.get("ruleset")
        if ruleset is not None and not ruleset.is_editable:
            self.add_error(
                "ruleset", f"v{ruleset.number} is {ruleset.get_status_display().lower()}: only drafts change."
            )
        data = {name: cleaned.get(name) for name in RULE_FIELDS}
        data["campaign"] = data["campaign"].pk if data["campaign"] is not None else None
        try:
            workflow.rule_clean(data)
        except ValidationError as exc:
            for field, messages_ in exc.message_dict.items():
                self.add_error(field if field in self.fields and field in cleaned else None, messages_)
        return cleaned


@admin.register(Rule)
class RuleAdmin(ServiceSavedAdmin):
    """Single rules; changes go through the draft's ``ruleset_update`` (revision, history, audit)."""

    form = RuleAdminForm
    list_display = ["name", "ruleset", "position", "kind", "points"]
    list_filter = ["kind", "ruleset__status"]
    search_fields = ["name"]
    list_select_related = ["ruleset"]
    raw_id_fields = ["campaign"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return new_rule_initial(db_field, super().formfield_for_dbfield(db_field, request, **kwargs))

    def has_add_permission(self, request):
        return super().has_add_permission(request) and workflow.can_edit_rulesets(request.user)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.ruleset.is_editable)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.ruleset.is_editable)

    @staticmethod
    def _rules_of(ruleset: Ruleset) -> list[dict]:
        return ruleset_rules(ruleset)

    def _replace(self, request, ruleset: Ruleset, rules: list[dict]) -> bool:
        try:
            workflow.ruleset_update(
                ruleset=ruleset, user=request.user, expected_revision=ruleset.revision, data={}, rules=rules
            )
        except SERVICE_ERRORS as exc:
            service_failed(request, self, exc)
            return False
        return True

    def save_model(self, request, obj, form, change):
        ruleset = Ruleset.objects.get(pk=obj.ruleset_id)
        rules = [r for r in self._rules_of(ruleset) if r["id"] != obj.pk]
        new = {name: form.cleaned_data.get(name) for name in RULE_FIELDS}
        new["campaign"] = new["campaign"].pk if new["campaign"] is not None else None
        new["id"] = obj.pk if change else None
        position = form.cleaned_data.get("position") or len(rules) + 1
        rules.insert(max(0, min(len(rules), position - 1)), new)
        if self._replace(request, ruleset, rules):
            saved = ruleset.rules.get(name=new["name"].strip())
            obj.pk, obj.position = saved.pk, saved.position
            obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # no relations; the service audited the change

    def response_add(self, request, obj, post_url_continue=None):
        if service_refused(request):
            return HttpResponseRedirect(reverse("admin:scoring_rule_changelist"))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if service_refused(request):
            return HttpResponseRedirect(reverse("admin:scoring_rule_change", args=[obj.pk]))
        return super().response_change(request, obj)

    def delete_model(self, request, obj):
        ruleset = obj.ruleset
        self._replace(request, ruleset, [r for r in self._rules_of(ruleset) if r["id"] != obj.pk])

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        doomed = set(queryset.values_list("pk", flat=True))
        for ruleset in Ruleset.objects.filter(rules__in=doomed).distinct():
            self._replace(request, ruleset, [r for r in self._rules_of(ruleset) if r["id"] not in doomed])


@admin.register(RulesetComment)
class RulesetCommentAdmin(ServiceSavedAdmin):
    """Comments are added through the workflow (any version) and never edited."""

    list_display = ["ruleset", "author", "created", "short_body"]
    list_filter = ["ruleset__status"]
    search_fields = ["body"]
    list_select_related = ["ruleset", "author"]
    fields = ["ruleset", "body"]

    @admin.display(description="Comment")
    def short_body(self, obj) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    def has_add_permission(self, request):
        return super().has_add_permission(request) and workflow.can_edit_rulesets(request.user)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            comment = workflow.ruleset_comment_add(
                ruleset=form.cleaned_data["ruleset"], user=request.user, body=form.cleaned_data["body"]
            )
        except SERVICE_ERRORS as exc:
            service_failed(request, self, exc)
            return
        obj.pk, obj.author, obj.created = comment.pk, comment.author, comment.created
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # the service audited it

    def response_add(self, request, obj, post_url_continue=None):
        if service_refused(request):
            return HttpResponseRedirect(reverse("admin:scoring_rulesetcomment_changelist"))
        return super().response_add(request, obj, post_url_continue)


# --- read-only: transitions and scores -----------------------------------------------------------
@admin.register(LifecycleTransition)
class LifecycleTransitionAdmin(ReadOnlyAdmin):
    list_display = [
        "contact",
        "from_stage",
        "to_stage",
        "at",
        "actor",
        "decision",
        "reason_code",
        "rule",
        "ruleset",
    ]
    list_filter = ["decision", "reason_code", "to_stage", "from_stage"]
    search_fields = ["contact__email", "reason", "rule"]
    list_select_related = ["contact", "actor", "ruleset"]
    raw_id_fields = ["contact"]


@admin.register(ContactScore)
class ContactScoreAdmin(ReadOnlyAdmin):
    list_display = ["contact", "grade", "fit", "engagement", "excluded", "fast_track", "ruleset", "scored_at"]
    list_filter = ["fit_grade", "engagement_grade"]
    search_fields = ["contact__email"]
    list_select_related = ["contact", "ruleset"]
    raw_id_fields = ["contact"]


@admin.register(ContactScoreHistory)
class ContactScoreHistoryAdmin(ReadOnlyAdmin):
    list_display = [
        "contact",
        "as_of",
        "fit_grade",
        "engagement_grade",
        "fit",
        "engagement",
        "ruleset",
        "scored_at",
    ]
    list_filter = ["fit_grade", "engagement_grade"]
    search_fields = ["contact__email"]
    list_select_related = ["contact", "ruleset"]
    raw_id_fields = ["contact"]


@admin.register(AccountRuleScore)
class AccountRuleScoreAdmin(ReadOnlyAdmin):
    list_display = ["account", "fit_grade", "engagement_grade", "fit", "engagement", "anonymous_engagement"]
    list_filter = ["fit_grade", "engagement_grade"]
    search_fields = ["account__name", "account__domain"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


# --- the scoring outbox: read, and replay parked rows ---------------------------------------------------
@admin.register(ScoringOutbox)
class ScoringOutboxAdmin(admin.ModelAdmin):
    """Rows are written by changes and drained by the rescoring task; a person only replays parked ones
    (``rescore.outbox_replay``, audited), the same action as the outbox page."""

    list_display = ["id", "created", "processed_at", "attempts", "next_attempt_at", "parked_at", "last_error"]
    list_filter = [("parked_at", admin.EmptyFieldListFilter), ("processed_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in ScoringOutbox._meta.fields]
    actions = ["replay"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay the selected parked rows (fresh attempts)", permissions=["change"])
    def replay(self, request, queryset):
        count = outbox_replay(actor=request.user, rows=list(queryset))
        self.message_user(request, f"{count} parked row{'s' if count != 1 else ''} queued again for scoring.")
