"""Web forms for segments and campaigns. They validate and normalise; the views write through services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from accounts.forms import ServiceModelForm
from accounts.models import Campaign, CampaignKey
from scoring.models import Ruleset
from scoring.whatif import MAX_DAYS

from .choices import LeaderboardMetric
from .models import Segment

CRITERIA_PREFIX = "c"


class SegmentForm(ServiceModelForm):
    """A segment's name and kind; a dynamic segment's criteria are the criteria form beside it."""

    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "owner_team"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


def criteria_from_post(data, names) -> dict[str, list[str]]:
    """The criteria a posted criteria form holds (``c-stage`` … → ``{"stage": [...]}``), empty ones out."""
    criteria: dict[str, list[str]] = {}
    for name in names:
        values = [
            v for v in data.getlist(f"{CRITERIA_PREFIX}-{name}") if str(v).strip() not in ("", "unknown")
        ]
        if values:
            criteria[name] = values
    return criteria


class StaticMembersForm(forms.Form):
    """Accounts of a static segment, by domain: one per line (or separated by commas or spaces)."""

    domains = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "acme.com\nglobex.io"}),
        help_text="One domain per line; unknown domains are listed, not added.",
    )
    mode = forms.ChoiceField(
        choices=[
            ("add", "Add to the list"),
            ("remove", "Remove from the list"),
            ("replace", "Replace the list"),
        ],
        initial="add",
    )

    def clean_domains(self) -> list[str]:
        text = self.cleaned_data["domains"]
        domains = [d for d in text.replace(",", " ").split() if d.strip()]
        if not domains:
            raise forms.ValidationError("Give at least one domain.")
        if len(domains) > 100_000:
            raise forms.ValidationError("At most 100,000 domains at once; import a CSV for more.")
        return domains


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class CampaignForm(ServiceModelForm):
    """A campaign with its cost lines by month, the keys that tie events to it, and its target."""

    cost_lines = forms.CharField(
        required=False,
        label="Costs by month",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-01 12000 agency\n2026-02 8000"}),
        help_text="One month per line: YYYY-MM, amount, optional note. With lines, the cost is their sum.",
    )
    keys = forms.CharField(
        required=False,
        label="Keys that tie events to it",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "utm_campaign: spring-webinar\nad_id: 120208"}
        ),
        help_text="One per line: utm_campaign, email_id or ad_id, a colon, the value.",
    )
    target_segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(), required=False, label="Target segment", empty_label="None"
    )
    holdout_percent = forms.DecimalField(
        min_value=0,
        max_value=50,
        initial=10,
        decimal_places=1,
        label="Holdout (% of the segment)",
        help_text="Held out at launch, at random (reproducibly), to measure the lift against.",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "channel",
            "goal",
            "owner_team",
            "start_date",
            "end_date",
            "budget",
            "cost",
            "description",
        ]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "end_date": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"budget": "Budget (USD)", "cost": "Cost so far (USD)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        campaign = self.original
        if campaign is not None and not self.is_bound:
            self.initial["cost_lines"] = "\n".join(
                f"{line.month:%Y-%m} {line.amount}{' ' + line.note if line.note else ''}"
                for line in campaign.cost_lines.all()
            )
            self.initial["keys"] = "\n".join(f"{key.kind}: {key.value}" for key in campaign.keys.all())
            target = getattr(campaign, "target", None)
            if target is not None:
                self.initial["target_segment"] = target.segment_id
                self.initial["holdout_percent"] = Decimal(str(round(target.holdout_share * 100, 1)))

    def clean_cost_lines(self) -> list[dict] | None:
        lines = []
        for number, line in enumerate(_lines(self.cleaned_data.get("cost_lines", "")), start=1):
            parts = line.split(None, 2)
            if len(parts) < 2:
                raise forms.ValidationError(
                    f"Line {number}: give a month and an amount, e.g. “2026-03 12000”."
                )
            lines.append({"month": parts[0], "amount": parts[1], "note": parts[2] if len(parts) > 2 else ""})
        return lines or None

    def clean_keys(self) -> list[dict]:
        keys = []
        kinds = dict(CampaignKey.Kind.choices)
        for number, line in enumerate(_lines(self.cleaned_data.get("keys", "")), start=1):
            kind, sep, value = line.partition(":")
            if not sep or kind.strip() not in kinds:
                raise forms.ValidationError(
                    f"Line {number}: write “kind: value” with kind one of {', '.join(kinds)}."
                )
            keys.append({"kind": kind.strip(), "value": value.strip()})
        return keys

    def target_data(self) -> tuple[Segment | None, float]:
        return self.cleaned_data.get("target_segment"), float(
            self.cleaned_data.get("holdout_percent") or 0
        ) / 100


class SegmentWhatIfForm(forms.Form):
    """Replay a rules version over the contacts of a segment's accounts (scoring's what-if)."""

    ruleset = forms.ModelChoiceField(queryset=Ruleset.objects.order_by("-number"), label="Rules version")
    days = forms.IntegerField(min_value=7, max_value=MAX_DAYS, initial=90, label="Days")


class LeaderboardForm(forms.Form):
    """The leaderboard's period and the metric it ranks by."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    metric = forms.ChoiceField(choices=LeaderboardMetric.choices, required=False, label="Rank by")
    channel = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data
