"""Pages for the teams' notifications and webhook endpoints (thin: selectors read, services write).

Anyone in a team sees its notifications and endpoints; members mark notifications read; leads of
the team create, edit, delete and test endpoints, see their secret, and retry deliveries.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from revops.views import paginate_without_count, positive_int
from scoring import filtersets
from scoring.choices import DeliveryStatus
from scoring.delivery import notifications, webhooks
from scoring.models import Notification, WebhookEndpoint

STATUS_COLOURS = {
    DeliveryStatus.PENDING: "secondary",
    DeliveryStatus.DELIVERED: "success",
    DeliveryStatus.RETRYING: "warning",
    DeliveryStatus.FAILED: "danger",
}
RECENT_DELIVERIES = 25


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Back to ``next`` when it is a page of this site, else to ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = default
    return HttpResponseRedirect(target)


# --- notifications ---------------------------------------------------------------------------------
class NotificationListView(PermissionRequiredMixin, TemplateView):
    """The notifications of the user's teams, newest first; unread only with ``?unread=true``."""

    permission_required = "scoring.view_notification"
    template_name = "scoring/notifications/notification_list.html"
    page_size = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = self.request
        queryset = notifications.notification_list(user=request.user)
        filterset = filtersets.NotificationFilterSet(request.GET, queryset=queryset, request=request)
        rows = filterset.qs if filterset.is_valid() else queryset.none()
        page = paginate_without_count(
            rows, page=positive_int(request.GET.get("page"), 1, 10_000), page_size=self.page_size
        )
        context.update(
            {
                "page": page,
                "notifications": page.object_list,
                "unread_only": request.GET.get("unread") in ("true", "True", "1"),
                "can_mark": request.user.has_perm("scoring.change_notification"),
            }
        )
        return context


class NotificationReadView(PermissionRequiredMixin, View):
    """POST: mark one notification read; htmx gets the updated row back."""

    permission_required = ("scoring.view_notification", "scoring.change_notification")

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            notification = notifications.notification_list(user=request.user).get(pk=pk)
        except Notification.DoesNotExist as exc:
            raise Http404("No such notification in your teams") from exc
        notifications.notification_mark_read(actor=request.user, notification=notification)
        if _is_htmx(request):
            return render(
                request,
                "scoring/notifications/_notification_row.html",
                {"notification": notification, "can_mark": True, "oob": True},
            )
        return _back(request, reverse("webhooks:notification_list"))


class NotificationReadAllView(PermissionRequiredMixin, View):
    """POST: mark every unread notification of the user's teams read."""

    permission_required = ("scoring.view_notification", "scoring.change_notification")

    def post(self, request: HttpRequest) -> HttpResponse:
        marked = notifications.notification_mark_all_read(actor=request.user)
        messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
        return _back(request, reverse("webhooks:notification_list"))


# --- webhook endpoints -----------------------------------------------------------------------------
class WebhookEndpointListView(PermissionRequiredMixin, TemplateView):
    """The endpoints of the user's teams with their deliveries by status."""

    permission_required = "scoring.view_webhookendpoint"
    template_name = "scoring/webhooks/endpoint_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        endpoints = list(webhooks.webhook_endpoint_list(user=user).order_by("team__name", "name"))
        counts = webhooks.delivery_status_counts(endpoint_ids=[e.pk for e in endpoints])
        for endpoint in endpoints:
            by_status = counts.get(endpoint.pk, {})
            endpoint.status_counts = [
                (label, by_status.get(code, 0), STATUS_COLOURS[code])
                for code, label in DeliveryStatus.choices
                if by_status.get(code)
            ]
            endpoint.event_type_labels = _event_type_labels(endpoint)
        context.update({"endpoints": endpoints, "can_add": webhooks.lead_teams(user=user).exists()})
        return context


def _event_type_labels(endpoint: WebhookEndpoint) -> list[str]:
    return list(endpoint.event_types) if endpoint.event_types else ["all events"]


def _scoped_endpoint(request: HttpRequest, pk: int, action: str = "view") -> WebhookEndpoint:
    try:
        return webhooks.webhook_endpoint_list(user=request.user, action=action).get(pk=pk)
    except WebhookEndpoint.DoesNotExist as exc:
        raise Http404("No such webhook endpoint in your teams") from exc


def _deliveries_context(request: HttpRequest, endpoint: WebhookEndpoint, can_manage: bool) -> dict[str, Any]:
    deliveries = list(endpoint.deliveries.prefetch_related("attempt_log").order_by("-id")[:RECENT_DELIVERIES])
    for delivery in deliveries:
        delivery.colour = STATUS_COLOURS.get(delivery.status, "secondary")
    return {
        "endpoint": endpoint,
        "deliveries": deliveries,
        "can_manage": can_manage,
        # Keep refreshing while something is on its way (a worker sends it; nothing to do here).
        "poll": any(d.status == DeliveryStatus.PENDING for d in deliveries),
    }


class WebhookEndpointDetailView(PermissionRequiredMixin, TemplateView):
    """An endpoint: settings, the secret (leads of the team), recent deliveries with their attempts."""

    permission_required = "scoring.view_webhookendpoint"
    template_name = "scoring/webhooks/endpoint_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = self.request
        endpoint = _scoped_endpoint(request, self.kwargs["pk"])
        can_manage = webhooks.can_manage_endpoint(user=request.user, endpoint=endpoint)
        context.update(_deliveries_context(request, endpoint, can_manage))
        context.update(
            {
                "object": endpoint,
                "event_type_labels": _event_type_labels(endpoint),
                "event_types": webhooks.EVENT_TYPES,
                "can_view_deliveries": request.user.has_perm("scoring.view_webhookdelivery"),
            }
        )
        return context


class WebhookDeliveriesFragmentView(PermissionRequiredMixin, View):
    """The recent deliveries table of an endpoint, for htmx to refresh in place."""

    permission_required = ("scoring.view_webhookendpoint", "scoring.view_webhookdelivery")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = _scoped_endpoint(request, pk)
        can_manage = webhooks.can_manage_endpoint(user=request.user, endpoint=endpoint)
        return render(
            request, "scoring/webhooks/_deliveries.html", _deliveries_context(request, endpoint, can_manage)
        )


class WebhookEndpointForm(forms.Form):
    """An endpoint's settings. Validates only: the view writes through the webhook services."""

    team = forms.ModelChoiceField(queryset=None, empty_label=None, help_text="A team you lead.")
    name = forms.CharField(max_length=100, help_text="e.g. “Salesforce sync”.")
    url = forms.URLField(
        max_length=500, label="URL", assume_scheme="https", help_text="Receives a signed POST per event."
    )
    event_types = forms.MultipleChoiceField(
        choices=webhooks.EVENT_TYPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        label="Event types",
        help_text="None ticked: every event type. Tests (ping) are always sent.",
    )
    active = forms.BooleanField(required=False, initial=True, help_text="Inactive endpoints get nothing.")
    secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=100,
        help_text="Leave empty to generate one.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    rotate_secret = forms.BooleanField(
        required=False, label="Generate a new secret", help_text="Receivers must switch to the new one."
    )

    def __init__(self, *args: Any, teams, instance: WebhookEndpoint | None = None, **kwargs: Any) -> None:
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "url": instance.url,
                    "event_types": instance.event_types,
                    "active": instance.active,
                },
            )
        super().__init__(*args, **kwargs)
        self.instance = instance
        if instance is None:
            self.fields["team"].queryset = teams
            del self.fields["rotate_secret"]
        else:
            del self.fields["team"]
            self.fields["secret"].help_text = "Leave empty to keep the current secret."

    def clean_url(self) -> str:
        value = self.cleaned_data["url"]
        if not value.lower().startswith(("http://", "https://")):
            raise ValidationError("Enter an http:// or https:// URL.")
        return value

    def service_data(self) -> dict[str, Any]:
        data = {k: self.cleaned_data[k] for k in ("name", "url", "event_types", "active", "secret")}
        if self.cleaned_data.get("rotate_secret") and not data["secret"]:
            data["secret"] = webhooks.secret_generate()
        return data


class WebhookEndpointEditView(PermissionRequiredMixin, TemplateView):
    """Create (no ``pk``) or edit an endpoint of a team the user leads."""

    template_name = "scoring/webhooks/endpoint_form.html"

    def get_permission_required(self) -> tuple[str, ...]:
        return (
            ("scoring.change_webhookendpoint",) if "pk" in self.kwargs else ("scoring.add_webhookendpoint",)
        )

    def get_object(self) -> WebhookEndpoint | None:
        if "pk" not in self.kwargs:
            return None
        return _scoped_endpoint(self.request, self.kwargs["pk"], action="change")

    def get_form(self, data=None) -> WebhookEndpointForm:
        return WebhookEndpointForm(
            data, teams=webhooks.lead_teams(user=self.request.user), instance=self.object
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        if self.object is None and not webhooks.lead_teams(user=request.user).exists():
            raise Http404("You lead no team")
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                if self.object is None:
                    endpoint = webhooks.webhook_endpoint_create(
                        actor=request.user, team=form.cleaned_data["team"], **form.service_data()
                    )
                    messages.success(request, f"Created webhook “{endpoint.name}”. Its secret is below.")
                else:
                    endpoint = webhooks.webhook_endpoint_update(
                        actor=request.user, endpoint=self.object, data=form.service_data()
                    )
                    messages.success(request, f"Saved webhook “{endpoint.name}”.")
                return HttpResponseRedirect(reverse("webhooks:endpoint_detail", kwargs={"pk": endpoint.pk}))
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, field_errors in errors.items():
                    form.add_error(field if field in form.fields else None, field_errors)
        return self.render_form(form, status=400)

    def render_form(self, form: WebhookEndpointForm, status: int = 200) -> HttpResponse:
        context = self.get_context_data(form=form, object=self.object)
        return render(self.request, self.template_name, context, status=status)


class _EndpointActionView(PermissionRequiredMixin, View):
    permission_required = "scoring.change_webhookendpoint"
    action = "change"

    def endpoint(self, request: HttpRequest, pk: int) -> WebhookEndpoint:
        return _scoped_endpoint(request, pk, action=self.action)


class WebhookEndpointDeleteView(_EndpointActionView):
    """POST: delete an endpoint with its delivery log."""

    permission_required = "scoring.delete_webhookendpoint"
    action = "delete"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(request, pk)
        webhooks.webhook_endpoint_delete(actor=request.user, endpoint=endpoint)
        messages.success(request, f"Deleted webhook “{endpoint.name}”.")
        return HttpResponseRedirect(reverse("webhooks:endpoint_list"))


class WebhookEndpointTestView(_EndpointActionView):
    """POST: send a ping through the delivery table."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(request, pk)
        try:
            delivery = webhooks.webhook_ping_send(actor=request.user, endpoint=endpoint)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            delivery.refresh_from_db()
            messages.info(request, f"Test event sent: {delivery.get_status_display().lower()}.")
        return HttpResponseRedirect(reverse("webhooks:endpoint_detail", kwargs={"pk": endpoint.pk}))


class WebhookDeliveryRetryView(PermissionRequiredMixin, View):
    """POST: redeliver one delivery now (same event id and body)."""

    permission_required = "scoring.change_webhookendpoint"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            delivery = webhooks.webhook_delivery_list(user=request.user, manage=True).get(pk=pk)
        except webhooks.WebhookDelivery.DoesNotExist as exc:
            raise Http404("No such delivery for a team you lead") from exc
        try:
            webhooks.delivery_retry_now(delivery=delivery, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            delivery.refresh_from_db()
            messages.info(
                request, f"Redelivery of {delivery.event_type}: {delivery.get_status_display().lower()}."
            )
        return HttpResponseRedirect(reverse("webhooks:endpoint_detail", kwargs={"pk": delivery.endpoint_id}))
