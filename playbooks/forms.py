"""Forms of the playbook pages: a new playbook (stage, segment), the editor (name, description and one row per
play, with blank rows to add), and the plays' rows as the service takes them."""

from __future__ import annotations

from django import forms

from accounts.models import Channel
from campaigns.models import Segment
from revops.choices import TeamKind
from scoring.choices import BuyingStage

from .choices import MAX_TOUCHES, PlayKind, StopCondition

EXTRA_ROWS = 2


class PlaybookCreateForm(forms.Form):
    stage = forms.ChoiceField(choices=BuyingStage.choices, initial=BuyingStage.DECISION)
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.order_by("name"), required=False, empty_label="Every account in the stage"
    )


class PlaybookEditForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PlayForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=PlayKind.choices)
    team_kind = forms.ChoiceField(choices=TeamKind.choices, label="Team")
    channel = forms.ModelChoiceField(queryset=Channel.objects.all(), required=False, to_field_name="slug")
    due_days = forms.IntegerField(min_value=0, max_value=365, initial=7, label="Due (days)")
    touches = forms.IntegerField(min_value=1, max_value=MAX_TOUCHES, initial=1)
    stop_on = forms.ChoiceField(choices=StopCondition.choices, label="Stops when")
    include_customers = forms.BooleanField(required=False, label="Customers too")
    include_open_deals = forms.BooleanField(required=False, label="Open deals too")
    notify_webhook = forms.BooleanField(required=False, label="Webhook")
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}))
    DELETE = forms.BooleanField(required=False, label="Remove")


PlayFormSet = forms.formset_factory(PlayForm, extra=EXTRA_ROWS, max_num=30)


def plays_from_formset(formset) -> list[dict]:
    """The rows kept (named, not removed), as the service's play dicts."""
    plays = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not (data.get("name") or "").strip():
            continue
        row = {key: value for key, value in data.items() if key != "DELETE"}
        row["channel"] = data["channel"].slug if data.get("channel") else None
        plays.append(row)
    return plays
