"""What the scoring admin pages share: saves and deletes through the services (a refused one shows its
error and writes no log entry), read-only admins for derived data, and versioned drafts."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse

from revops.admin import AuditedModelAdmin

from ..exceptions import WorkflowError

SERVICE_ERRORS = (WorkflowError, PermissionDenied, ValidationError)


def error_text(exc: Exception) -> str:
    """One line for a service error: validation errors as ``field: message``."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc) or "You may not do this."


def service_failed(request, model_admin, exc: Exception) -> None:
    """Show the error; the service wrote nothing, so skip the admin's log entry and success message."""
    model_admin.message_user(request, error_text(exc), level=messages.ERROR)
    request._scoring_admin_failed = True


class ServiceSavedAdmin(AuditedModelAdmin):
    """Admin whose saves go through a workflow service: no log entry when the service refused."""

    def log_addition(self, request, obj, message):
        if not getattr(request, "_scoring_admin_failed", False):
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request, obj, message):
        if not getattr(request, "_scoring_admin_failed", False):
            return super().log_change(request, obj, message)
        return None

    # A refused save stays where it was asked (the list after an add, the object after a change).
    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, "_scoring_admin_failed", False):
            meta = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if getattr(request, "_scoring_admin_failed", False):
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


def selected_one(model_admin, request, queryset):
    """The single selected row of an action that acts on one version, or None (and say so)."""
    if queryset.count() != 1:
        model_admin.message_user(request, "Select exactly one version.", level=messages.ERROR)
        return None
    return queryset.get()


class DraftVersionAdmin(ServiceSavedAdmin):
    """A versioned definition (rulesets, qualification policies): only drafts change; a new one is a copy
    of a version (``add_form``: based on, name), made and saved by the services."""

    add_form: type[forms.ModelForm]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)

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


# --- versions ---------------------------------------------------------------------------------------
