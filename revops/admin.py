"""Django admin for revenue-operations admins: writes go through the audited services.

Also the bases every app's admin stands on: audited saves (``AuditedModelAdmin``), saves through a service
that may refuse (``ServiceSavedAdmin``), read-only derived data (``ReadOnlyAdmin``) and versioned
documents with their workflow actions (``VersionedDocumentAdmin``, driven by a ``DocumentWorkflow``).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse

from . import services
from .audit import change_record_create, model_snapshot
from .choices import ChangeAction, VersionStatus
from .documents import DocumentWorkflow
from .exceptions import WorkflowError, error_text
from .models import ApiToken, ChangeRecord, JobRun, Membership, Team
from .templatetags.revops_ui import person


def person_column(field: str, description: str = ""):
    """A list column showing the user in ``field`` as the rest of the product does: full name, else the
    username (``person``), sorted by last name."""

    @admin.display(description=description or field.replace("_", " "), ordering=f"{field}__last_name")
    def column(obj) -> str:
        return person(getattr(obj, field)) or "—"

    column.__name__ = f"{field}_person"
    return column


# What a service may refuse with: its message is shown, nothing was written.
SERVICE_ERRORS = (WorkflowError, PermissionDenied, ValidationError)
# Set on the request when a service refused the admin's save (no log entry, no success message).
_REFUSED = "_admin_service_refused"


class AuditedModelAdmin(admin.ModelAdmin):
    """Every admin save and delete leaves a ChangeRecord, like the API and the UI do."""

    def save_model(self, request, obj, form, change):
        obj._audit_before = model_snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before, after = getattr(obj, "_audit_before", None), model_snapshot(obj)
        if before != after:
            change_record_create(
                actor=request.user,
                action=ChangeAction.UPDATE if change else ChangeAction.CREATE,
                instance=obj,
                before=before,
                after=after,
            )

    def delete_model(self, request, obj):
        services.object_delete(instance=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.object_delete(instance=obj, actor=request.user)


def service_failed(request, model_admin, exc: Exception) -> None:
    """Show the error; the service wrote nothing, so skip the admin's log entry and success message."""
    model_admin.message_user(request, error_text(exc), level=messages.ERROR)
    setattr(request, _REFUSED, True)


def service_refused(request) -> bool:
    """Whether a service refused this request's save (``service_failed``)."""
    return getattr(request, _REFUSED, False)


def selected_one(model_admin, request, queryset):
    """The single selected row of an action that acts on one version, or None (and say so)."""
    if queryset.count() != 1:
        model_admin.message_user(request, "Select exactly one version.", level=messages.ERROR)
        return None
    return queryset.get()


class ServiceSavedAdmin(AuditedModelAdmin):
    """Admin whose saves go through a workflow service: no log entry when the service refused."""

    def log_addition(self, request, obj, message):
        if not service_refused(request):
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request, obj, message):
        if not service_refused(request):
            return super().log_change(request, obj, message)
        return None

    # A refused save stays where it was asked (the list after an add, the object after a change).
    def response_add(self, request, obj, post_url_continue=None):
        if service_refused(request):
            meta = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if service_refused(request):
            meta = self.model._meta
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            return HttpResponseRedirect(url)
        return super().response_change(request, obj)

    # Deletes go through the service too (``service_delete``, when the admin allows deleting).
    def service_delete(self, obj, user) -> None:
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.service_delete(obj, request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(obj, request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived data (scores, transitions): look, never touch."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- versioned documents ----------------------------------------------------------------------------
class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DocumentApprovalInline(ReadOnlyInline):
    """A version's approvals (set ``model``): who signed for which team."""

    fields = ["user", "team_kind", "created"]
    readonly_fields = fields


class DocumentCommentInline(ReadOnlyInline):
    fields = ["created", "author", "body"]
    readonly_fields = fields


class DocumentHistoryInline(ReadOnlyInline):
    fields = ["at", "actor", "action", "detail"]
    readonly_fields = fields


class VersionedDocumentAdmin(ServiceSavedAdmin):
    """A versioned document (``revops.versioned``) in its workflow (``workflow``): only drafts change; a new
    one is a copy of a version (``add_form``: based on, name) made by the domain's service in
    ``save_model``; deleting a draft, proposing, approving, publishing and rolling back are the workflow's,
    offered as actions to whoever may do them."""

    workflow: DocumentWorkflow
    add_form: type[forms.ModelForm]
    actions = ["propose_selected", "approve_selected", "publish_now", "rollback_to"]
    # A version's page says which workflow steps its reader may take now (``actions_for``).
    change_form_template = "admin/versioned_document_change_form.html"
    STEP_WORDS = {
        "edit": "edit it",
        "propose": "propose it for approval",
        "delete": "delete it",
        "withdraw": "withdraw it to draft",
        "approve": "approve it for your team",
        "reject": "reject it",
        "publish": "publish it",
        "rollback": "roll back to it",
    }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        document = self.get_object(request, unquote(object_id))
        if document is not None:
            allowed = self.workflow.actions_for(request.user, document)
            extra_context = {
                **(extra_context or {}),
                "workflow_steps": [words for step, words in self.STEP_WORDS.items() if step in allowed],
                "workflow_own_proposal": document.status in (VersionStatus.PROPOSED, VersionStatus.APPROVED)
                and document.proposed_by_id == request.user.pk,
                "workflow_label": self.workflow.label_of(document),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)

    def has_propose_permission(self, request):
        return self.workflow.can_edit(request.user)

    def has_approve_permission(self, request):
        return bool(self.workflow.approver_team_kinds(request.user))

    def has_publish_permission(self, request):
        return self.workflow.can_publish(request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["based_on", "name"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    @staticmethod
    def adopt(obj, saved) -> None:
        """The admin's object becomes the version the service saved (for the log entry and redirect)."""
        for field in type(saved)._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def construct_change_message(self, request, form, formsets, add=False):
        # The inline formsets were not saved by the admin (the services write, the history keeps it).
        return super().construct_change_message(request, form, [], add)

    def service_delete(self, obj, user) -> None:
        self.workflow.draft_delete(document=obj, user=user)

    # --- workflow actions ------------------------------------------------------------------------
    def _each(self, request, queryset, step, done: str) -> None:
        for document in queryset.order_by("number"):
            label = self.workflow.label_of(document)
            try:
                step(document)
            except SERVICE_ERRORS as exc:
                self.message_user(request, f"{label}: {error_text(exc)}", level=messages.ERROR)
            else:
                document.refresh_from_db()
                self.message_user(
                    request,
                    f"{label} {done} (now {document.get_status_display().lower()}).",
                    messages.SUCCESS,
                )

    @admin.action(description="Propose the selected drafts for approval", permissions=["propose"])
    def propose_selected(self, request, queryset):
        self._each(
            request, queryset, lambda d: self.workflow.propose(document=d, user=request.user), "proposed"
        )

    @admin.action(description="Approve the selected versions for your team", permissions=["approve"])
    def approve_selected(self, request, queryset):
        self._each(
            request, queryset, lambda d: self.workflow.approve(document=d, user=request.user), "approved"
        )

    @admin.action(description="Publish the selected version now", permissions=["publish"])
    def publish_now(self, request, queryset):
        if selected_one(self, request, queryset) is not None:
            self._each(
                request,
                queryset,
                lambda d: self.workflow.publish(document=d, user=request.user),
                "published",
            )

    @admin.action(description="Roll back to the selected version", permissions=["publish"])
    def rollback_to(self, request, queryset):
        if selected_one(self, request, queryset) is not None:
            self._each(
                request,
                queryset,
                lambda d: self.workflow.rollback(document=d, user=request.user),
                "restored",
            )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["user", "role"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # through the Membership admin, which syncs the role's permissions


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "slug"]
    list_filter = ["kind"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = [person_column("user"), "team", "role"]
    list_select_related = ["user", "team"]
    list_filter = ["team", "role"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # membership_set keys on (user, team): changing either here would add a second membership
        # and leave the first, with its permissions, in place. Delete and add instead.
        return ["user", "team"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        saved = services.membership_set(actor=request.user, user=obj.user, team=obj.team, role=obj.role)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.membership_delete(actor=request.user, membership=obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("user"):
            services.membership_delete(actor=request.user, membership=obj)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name", "prefix", person_column("user"), "scopes", "created", "last_used_at", "expires_at",
        "revoked_at",
    ]  # fmt: skip
    list_select_related = ["user"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    fields = ["name", "user", "scopes", "expires_at", "prefix", "created", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A token's key and grant never change after creation: revoke it and make a new one.
        return [*self.readonly_fields, "user", "scopes"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, key = services.api_token_create(
            actor=request.user, user=obj.user, name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at
        )
        obj.pk, obj.prefix, obj.key_hash = token.pk, token.prefix, token.key_hash
        obj._state.adding = False
        messages.warning(
            request, f"The key for “{token.name}” is {key} — copy it now, it will not be shown again."
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.api_token_revoke(actor=request.user, token=token)


@admin.register(ChangeRecord)
class ChangeRecordAdmin(admin.ModelAdmin):
    list_display = ["time", person_column("actor"), "action", "object_type", "object_repr", "request_id"]
    list_select_related = ["actor", "object_type"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "request_id"]
    date_hierarchy = "time"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = [
        "id", "kind", "status", "progress", "total", person_column("created_by", "started by"), "created",
        "finished_at",
    ]  # fmt: skip
    list_select_related = ["created_by"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False
