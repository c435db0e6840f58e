"""Core forms: a new API token, and a periodic task's schedule. They validate; services write."""

import datetime
from typing import Any

from django import forms
from django.utils import timezone

from .choices import TokenScope
from .models import ApiToken
from .permissions import token_scopes_grantable
from .schedule import INTERVAL_PERIODS, Crontab, Interval, crontab_validate, interval_validate

SCOPE_HELP = {
    TokenScope.READ: "read what you can see (GET)",
    TokenScope.WRITE: "create, change and delete what you may (POST, PUT, PATCH, DELETE)",
    TokenScope.INGEST: "send engagement events to /api/events/batch/",
}


class ApiTokenCreateForm(forms.Form):
    """A token for the signed-in user: offered only the scopes their permissions could use."""

    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What uses it, e.g. “CRM sync”.",
    )
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: the token stops working at 00:00 UTC that day.",
    )

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grantable = token_scopes_grantable(user)
        self.fields["scopes"].choices = [
            (scope, f"{TokenScope(scope).label} — {SCOPE_HELP[scope]}") for scope in grantable
        ]
        self.fields["scopes"].error_messages["invalid_choice"] = (
            "You may not give a token the %(value)s scope: your permissions could not use it."
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name

    def clean_expires_on(self) -> datetime.date | None:
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.now().date():
            raise forms.ValidationError("Choose a day after today.")
        return day

    def service_data(self) -> dict[str, Any]:
        day = self.cleaned_data.get("expires_on")
        expires_at = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC) if day else None
        return {
            "name": self.cleaned_data["name"],
            "scopes": self.cleaned_data["scopes"],
            "expires_at": expires_at,
        }


class PeriodicTaskForm(forms.Form):
    """When a periodic task runs: an interval (every N units) or a crontab in UTC, and whether it runs."""

    KIND_CHOICES = [("interval", "Every …"), ("crontab", "At set times (crontab, UTC)")]

    enabled = forms.BooleanField(required=False, label="Enabled", help_text="Off: beat does not run it.")
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Runs", widget=forms.RadioSelect)
    every = forms.IntegerField(required=False, min_value=1, label="Every")
    period = forms.ChoiceField(choices=INTERVAL_PERIODS, required=False, label="Unit")
    minute = forms.CharField(required=False, max_length=240, help_text="0-59, e.g. 0 or */15")
    hour = forms.CharField(required=False, max_length=96, help_text="0-23 (UTC), e.g. 3 or 1-5")
    day_of_week = forms.CharField(required=False, max_length=64, label="Day of week",
                                  help_text="0-6 (0 is Sunday) or *")  # fmt: skip
    day_of_month = forms.CharField(
        required=False, max_length=124, label="Day of month", help_text="1-31 or *"
    )
    month_of_year = forms.CharField(required=False, max_length=64, label="Month", help_text="1-12 or *")

    @classmethod
    def initial_for(cls, task) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "enabled": task.enabled,
            "kind": "crontab" if task.crontab_id else "interval",
        }
        if task.interval_id:
            initial.update(every=task.interval.every, period=task.interval.period)
        else:
            initial.update(every=1, period="hours")
        if task.crontab_id:
            cron = task.crontab
            initial.update(minute=cron.minute, hour=cron.hour, day_of_week=cron.day_of_week,
                           day_of_month=cron.day_of_month, month_of_year=cron.month_of_year)  # fmt: skip
        else:
            initial.update(minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*")
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            if data["kind"] == "interval":
                if data.get("every") is None:
                    self.add_error("every", "Required: how many units between runs.")
                    return data
                data["interval"] = Interval(every=data["every"], period=data.get("period") or "")
                interval_validate(data["interval"])
            else:
                data["crontab"] = Crontab(
                    minute=data.get("minute") or "",
                    hour=data.get("hour") or "",
                    day_of_week=data.get("day_of_week") or "",
                    day_of_month=data.get("day_of_month") or "",
                    month_of_year=data.get("month_of_year") or "",
                )
                crontab_validate(data["crontab"])
        except forms.ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"enabled": data["enabled"], "interval": data.get("interval"), "crontab": data.get("crontab")}
