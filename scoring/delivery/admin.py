"""Admin for notifications, webhook endpoints and their deliveries (imported by ``scoring.admin``).

Endpoints are written through the webhook services (audited, secret redacted in the audit log);
deliveries and attempts are a log: read-only, with a "Retry now" action.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from revops.admin import AuditedModelAdmin, person_column
from scoring.delivery import webhooks
from scoring.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, AuditedModelAdmin):
    list_display = ["title", "team", person_column("user"), "kind", "created"]
    list_filter = ["team", "kind"]
    search_fields = ["title"]
    raw_id_fields = ["contact", "user"]
    list_select_related = ["team", "user"]
    show_full_result_count = False


class WebhookEndpointAdminForm(forms.ModelForm):
    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["team", "name", "url", "event_types", "active", "secret"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "secret" in self.fields:
            self.fields["secret"].required = False
            self.fields["secret"].help_text = "Empty: generate one (new endpoint) or keep it (existing)."

    def clean_event_types(self):
        try:
            return webhooks.event_types_clean(self.cleaned_data.get("event_types"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["event_types"]) from None

    def clean_url(self):
        url = self.cleaned_data.get("url", "")
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationError("Enter an http:// or https:// URL.")
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    list_display = ["name", "team", "url", "active", "created"]
    list_filter = ["team", "active"]
    search_fields = ["name", "url"]
    list_select_related = ["team"]

    def get_readonly_fields(self, request, obj=None):
        return ["team"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = {name: getattr(obj, name) for name in webhooks.ENDPOINT_EDITABLE}
        if change:
            current = WebhookEndpoint.objects.get(pk=obj.pk)
            saved = webhooks.webhook_endpoint_update(actor=request.user, endpoint=current, data=data)
        else:
            saved = webhooks.webhook_endpoint_create(actor=request.user, team=obj.team, **data)
        obj.pk, obj.secret = saved.pk, saved.secret

    def delete_model(self, request, obj):
        webhooks.webhook_endpoint_delete(actor=request.user, endpoint=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            webhooks.webhook_endpoint_delete(actor=request.user, endpoint=obj)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "status_code", "duration_ms", "error"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["event_type", "event_id", "endpoint", "status", "attempts", "next_attempt_at", "created"]
    list_filter = ["status", "event_type"]
    search_fields = ["=event_id"]
    list_select_related = ["endpoint__team"]
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]
    show_full_result_count = False

    @admin.action(description="Retry now (same event id and body)", permissions=["retry"])
    def retry_now(self, request, queryset):
        done = 0
        for delivery in queryset:
            try:
                webhooks.delivery_retry_now(delivery=delivery, user=request.user)
                done += 1
            except ValidationError as exc:
                messages.warning(request, f"{delivery}: {' '.join(exc.messages)}")
        self.message_user(request, f"Queued {done} deliveries again.")

    def has_retry_permission(self, request):
        return request.user.has_perm("scoring.change_webhookendpoint")
