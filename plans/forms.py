"""Forms of the plan pages: a new plan (period and scope), the editor (numbers, overrides with their notes,
and one row per channel), and the workflow's reject and publish forms."""

from __future__ import annotations

from django import forms

from campaigns.models import Segment
from revops.models import Team

from .choices import PeriodKind


class PlanCreateForm(forms.Form):
    period_kind = forms.ChoiceField(choices=PeriodKind.choices, initial=PeriodKind.QUARTER, label="Period")
    period_start = forms.DateField(
        label="Starting", widget=forms.DateInput(attrs={"type": "date"}), help_text="The first of a month."
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="Company"
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.order_by("name"), required=False, empty_label="Every account"
    )
    revenue_target = forms.DecimalField(min_value=0, max_digits=16, decimal_places=2, label="Revenue target")


class PlanEditForm(forms.Form):
    """The draft's fields; blank override fields mean "the history's number". The service validates."""

    revision = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    revenue_target = forms.CharField(label="Revenue target")
    history_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="History from")
    history_end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="History to")
    win_rate = forms.CharField(required=False, label="Win rate override (0–1)")
    win_rate_note = forms.CharField(required=False, max_length=500, label="Why")
    deal_size = forms.CharField(required=False, label="Deal size override")
    deal_size_note = forms.CharField(required=False, max_length=500, label="Why")
    cycle_days = forms.CharField(required=False, label="Sales cycle override (days)")
    cycle_days_note = forms.CharField(required=False, max_length=500, label="Why")
    refresh_history = forms.BooleanField(required=False, label="Compute the history again")


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=10_000, label="Comment")


def allocations_from_post(data, channels) -> list[dict]:
    """The editor's channel rows (``share-<id>`` in percent, ``capacity-<id>``, ``note-<id>``) as the service
    takes them; rows left at 0% without a capacity are dropped."""
    rows = []
    for channel in channels:
        share = (data.get(f"share-{channel.pk}") or "").strip()
        capacity = (data.get(f"capacity-{channel.pk}") or "").strip()
        note = (data.get(f"note-{channel.pk}") or "").strip()
        try:
            fraction = float(share or 0) / 100
        except ValueError:
            fraction = share  # the service says what is wrong with it
        if fraction == 0 and not capacity and not note:
            continue
        rows.append({"channel": channel.pk, "share": fraction, "capacity": capacity or None, "note": note})
    return rows
