"""Django admin for revenue-operations admins: writes go through the audited services."""

from django.contrib import admin, messages
from django.db import transaction

from . import services
from .audit import change_record_create, model_snapshot
from .choices import ChangeAction
from .models import ApiToken, ChangeRecord, JobRun, Membership, Team


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
    list_display = ["user", "team", "role"]
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
    list_display = ["name", "prefix", "user", "scopes", "created", "last_used_at", "expires_at", "revoked_at"]
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
    list_display = ["time", "actor", "action", "object_type", "object_repr", "request_id"]
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
    list_display = ["id", "kind", "status", "progress", "total", "created_by", "created", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False
