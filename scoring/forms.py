"""Web forms for the rules pages. They validate shapes and normalise; the views call the workflow
services, which own the rules of the domain (thresholds in order, valid patterns, who may do what).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

from django import forms
from django.core import signing
from django.utils import timezone

from accounts.choices import EventType
from scoring.choices import RuleKind, RuleOperator
from scoring.engine.preview import decay_preview_text
from scoring.models import Ruleset
from scoring.selectors import RULE_FIELDS, document_diff, rule_as_dict, ruleset_settings
from scoring.whatif import MAX_DAYS
from scoring.workflow import NEW_ENGAGEMENT_RULE_DEFAULTS

# Definition fields of a version, in the order the editor shows them (the same set as the selectors').
DEFINITION_FIELDS = [
    "name",
    "description",
    "mql_fit_min",
    "mql_engagement_min",
    "recycle_engagement_below",
    "required_fields",
    "fit_grade_a_min",
    "fit_grade_b_min",
    "engagement_grade_1_min",
    "engagement_grade_2_min",
    "sal_enabled",
    "fast_track_event_types",
    "exclude_free_mail",
    "excluded_title_pattern",
    "excluded_industries",
    "excluded_countries",
    "competitor_domains",
    "sql_checklist",
]
SNAPSHOT_SALT = "scoring.ruleset-editor-snapshot"


# --- snapshots: what a version looked like when someone opened the editor --------------------------
def ruleset_snapshot(ruleset: Ruleset, rules: list | None = None) -> dict[str, Any]:
    """The version's definition and rules as plain JSON values (``rules`` saves a query if given)."""
    rules = list(ruleset.rules.order_by("position", "id")) if rules is None else rules
    return {
        "revision": ruleset.revision,
        "settings": ruleset_settings(ruleset),
        "rules": [rule_as_dict(rule) for rule in rules],
    }


def snapshot_sign(snapshot: dict[str, Any]) -> str:
    return signing.dumps(snapshot, salt=SNAPSHOT_SALT, compress=True)


def snapshot_load(token: str) -> dict[str, Any] | None:
    """The snapshot a form carried, or ``None`` if it is missing or was tampered with."""
    if not token:
        return None
    try:
        return signing.loads(token, salt=SNAPSHOT_SALT)
    except signing.BadSignature:
        return None


_TEXT_RULE_FIELDS = {"field", "operator", "event_type", "url_pattern", "topic"}


def _rule_values(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule from a snapshot or from the editor, in one comparable shape (without id and position)."""
    values = {name: rule.get(name) for name in RULE_FIELDS}
    for name in _TEXT_RULE_FIELDS:
        values[name] = values[name] or ""
    for name in ("points", "cap", "half_life_days"):
        if isinstance(values[name], int | float) and not isinstance(values[name], bool):
            values[name] = float(values[name])
    values["min_count"] = values["min_count"] or 1
    values["repeatable"] = bool(values["repeatable"])
    return values


def _rules_by_key(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rules keyed by name, in order (names are unique in a version, whatever their case)."""
    return {(rule.get("name") or "").casefold(): _rule_values(rule) for rule in rules}


def _setting_value(name: str, value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if value is None and name not in ("recycle_engagement_below",):
        return ""
    return value


def setting_label(name: str) -> str:
    field = RulesetDefinitionForm.base_fields.get(name)
    return str(field.label) if field is not None and field.label else name.replace("_", " ").capitalize()


def snapshot_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from snapshot ``old`` to ``new``, in the shape of ``selectors.ruleset_diff``."""
    return document_diff(
        {**old["settings"], "rules": old["rules"]}, {**new["settings"], "rules": new["rules"]}
    )


def snapshot_merge(
    *, base: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The user's changes (``mine`` against ``base``) re-applied on ``theirs``: a three-way merge.

    A setting or a rule the user did not touch takes the other editor's value; one the user changed
    takes the user's. Returns the merged settings and rules, and what both changed differently.
    """
    settings: dict[str, Any] = {}
    both_changed: list[str] = []
    for name in DEFINITION_FIELDS:
        was, ours, other = (
            _setting_value(name, base["settings"].get(name)),
            _setting_value(name, mine["settings"].get(name)),
            _setting_value(name, theirs["settings"].get(name)),
        )
        if ours != was:
            settings[name] = mine["settings"].get(name)
            if other != was and other != ours:
                both_changed.append(setting_label(name))
        else:
            settings[name] = theirs["settings"].get(name)
    base_rules, my_rules, their_rules = (
        _rules_by_key(base["rules"]),
        _rules_by_key(mine["rules"]),
        _rules_by_key(theirs["rules"]),
    )
    their_ids = {(rule.get("name") or "").casefold(): rule.get("id") for rule in theirs["rules"]}
    merged = dict(their_rules)
    for key, rule in my_rules.items():
        was = base_rules.get(key)
        if was is None or was != rule:  # added or changed by the user
            if was is not None and key in their_rules and their_rules[key] not in (was, rule):
                both_changed.append(f"rule “{rule['name']}”")
            merged[key] = rule
    for key in base_rules:
        if key not in my_rules:  # removed by the user
            merged.pop(key, None)
    rules = [{**rule, "id": their_ids.get(key)} for key, rule in merged.items()]
    return {"settings": settings, "rules": rules}, both_changed


# --- small field types -----------------------------------------------------------------------------
class ListTextField(forms.CharField):
    """A list of short values typed as text, separated by commas or new lines."""

    def __init__(self, *, transform=None, **kwargs: Any) -> None:
        self.transform = transform
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):
            items = [str(v) for v in value]
        else:
            items = re.split(r"[,\n]", value or "")
        items = [item.strip() for item in items if item and item.strip()]
        if self.transform:
            items = [self.transform(item) for item in items]
        return list(dict.fromkeys(items))  # no duplicates, order kept


class LinesField(ListTextField):
    """A list typed one item per line (items may contain commas: checklist sentences)."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        items = [str(v) for v in value] if isinstance(value, list | tuple) else (value or "").splitlines()
        return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def _regex_or_error(pattern: str) -> str:
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise forms.ValidationError(f"Not a valid regular expression: {exc}.") from exc
    return pattern


# --- rule values -------------------------------------------------------------------------------
def rule_value_text(value: Any) -> str:
    """A rule's JSON value as the editor shows it: ``a, b`` for lists, ``200-10000`` for ranges."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict) and set(value) <= {"min", "max"}:
        low, high = value.get("min"), value.get("max")
        return f"{'' if low is None else _number_text(low)}-{'' if high is None else _number_text(high)}"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _preview_number(value: Any) -> float | None | bool:
    """A field's raw value as a number for the preview: ``None`` if empty, ``False`` if not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number if math.isfinite(number) else False


def _plain(value: Any) -> Any:
    """Whole floats as integers, so that the editor shows ``30``, not ``30.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number_text(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _number(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() else number


def rule_value_parse(text: str, operator: str) -> Any:
    """The editor's text back to the JSON value the operator expects (raises ``ValueError``)."""
    text = (text or "").strip()
    if not text:
        return None
    if text[:1] in "[{":
        return json.loads(text)
    if operator in (RuleOperator.IN, RuleOperator.EMAIL_DOMAIN):
        return [item.strip() for item in re.split(r"[,\n]", text) if item.strip()]
    if operator == RuleOperator.RANGE:
        match = re.fullmatch(r"\s*(-?[\d.]*)\s*(?:-|–|\.\.|to)\s*(-?[\d.]*)\s*", text)
        if not match or not (match.group(1) or match.group(2)):
            raise ValueError("Write a range as min-max, e.g. 200-10000 (either end may be empty).")
        low, high = match.groups()
        return {"min": _number(low) if low else None, "max": _number(high) if high else None}
    if operator == RuleOperator.EQUALS and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _number(text)
    return text


# --- the editor --------------------------------------------------------------------------------
class RulesetDefinitionForm(forms.Form):
    """The definition of a draft: MQL thresholds, required data, grades, SAL, exclusions, SQL checklist.

    ``revision`` is the version the user started from (sent as ``expected_revision``);
    ``base_snapshot`` is a signed copy of that version, to show what changed if someone saved meanwhile.
    """

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    base_snapshot = forms.CharField(widget=forms.HiddenInput, required=False)

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    mql_fit_min = forms.FloatField(label="MQL: minimum fit points")
    mql_engagement_min = forms.FloatField(label="MQL: minimum engagement points")
    recycle_engagement_below = forms.FloatField(
        required=False,
        label="Recycle an MQL when engagement falls below",
        help_text="Empty: half the MQL engagement minimum.",
    )
    required_fields = ListTextField(
        label="Required contact data",
        help_text="Contact fields an MQL must have, separated by commas: email, first_name, account …",
    )
    fit_grade_a_min = forms.FloatField(label="Fit grade A from")
    fit_grade_b_min = forms.FloatField(label="Fit grade B from", help_text="Below it: grade C.")
    engagement_grade_1_min = forms.FloatField(label="Engagement grade 1 from")
    engagement_grade_2_min = forms.FloatField(label="Engagement grade 2 from", help_text="Below it: grade 3.")
    sal_enabled = forms.BooleanField(required=False, label="SAL stage enabled (sales accepts MQLs)")
    fast_track_event_types = forms.MultipleChoiceField(
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Fast-track actions (straight to SAL)",
    )
    exclude_free_mail = forms.BooleanField(required=False, label="Exclude free-mail addresses")
    excluded_title_pattern = forms.CharField(
        max_length=500,
        required=False,
        label="Excluded titles (regular expression)",
        help_text="Students, interns, job seekers …",
    )
    excluded_industries = ListTextField(label="Excluded industries")
    excluded_countries = ListTextField(
        label="Excluded countries", transform=str.upper, help_text="ISO codes."
    )
    competitor_domains = ListTextField(label="Competitor domains", transform=str.lower)
    sql_checklist = LinesField(label="SQL checklist", help_text="What sales confirms, one item per line.")

    def clean_excluded_title_pattern(self) -> str:
        return _regex_or_error(self.cleaned_data.get("excluded_title_pattern", ""))

    def service_data(self) -> dict[str, Any]:
        """The definition values by model field name, for ``ruleset_update(data=…)``."""
        return {name: self.cleaned_data[name] for name in DEFINITION_FIELDS if name in self.cleaned_data}

    @classmethod
    def initial_for(
        cls, ruleset: Ruleset, snapshot: dict[str, Any], settings: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Initial values: ``snapshot``'s settings (or ``settings``), its revision and itself, signed."""
        values = snapshot["settings"] if settings is None else settings
        return {
            **{name: _plain(value) for name, value in values.items()},
            "revision": ruleset.revision,
            "base_snapshot": snapshot_sign(snapshot),
        }


class RuleForm(forms.Form):
    """One rule row of the editor: a fit condition or an engagement behaviour, and its points.

    ``id`` keeps an existing rule's identity (its history); a new row has none. The condition fields
    of the other kind are ignored (a fit rule counts no events, an engagement rule tests no field).
    """

    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=RuleKind.choices)
    field = forms.CharField(
        max_length=200,
        required=False,
        help_text="seniority, account.industry, custom.<key> …",
        # Suggestions from the page's <datalist id="rule-field-paths"> (any custom key may still be typed).
        widget=forms.TextInput(attrs={"list": "rule-field-paths", "autocomplete": "off"}),
    )
    operator = forms.ChoiceField(choices=[("", "—"), *RuleOperator.choices], required=False)
    value = forms.CharField(required=False, help_text="a, b for lists; 200-10000 for a range")
    event_type = forms.ChoiceField(choices=[("", "Any event"), *EventType.choices], required=False)
    url_pattern = forms.CharField(max_length=500, required=False)
    topic = forms.CharField(max_length=200, required=False)
    campaign = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    min_count = forms.IntegerField(min_value=1, initial=1)
    window_days = forms.IntegerField(min_value=1, required=False)
    points = forms.FloatField()
    repeatable = forms.BooleanField(required=False)
    cap = forms.FloatField(required=False, min_value=0)
    half_life_days = forms.FloatField(required=False, min_value=0)

    def __init__(self, *args: Any, campaign_choices: list[tuple[Any, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = [("", "Any campaign"), *(campaign_choices or [])]

    def clean_url_pattern(self) -> str:
        return _regex_or_error(self.cleaned_data.get("url_pattern", ""))

    def new_engagement_defaults(self) -> dict[str, Any] | None:
        """For a new row (no id): the window and half-life it takes if switched to an engagement rule with
        both empty (static/scoring/rule_preview.js fills them in); ``None`` for an existing rule."""
        return None if self["id"].value() else NEW_ENGAGEMENT_RULE_DEFAULTS

    def decay_preview(self) -> str:
        """What one matching event earns by its age under the row's points, cap, half-life and window, as
        the engine computes it (static/scoring/rule_preview.js rewrites it as the fields change)."""
        values = {name: _preview_number(self[name].value()) for name in ("points", "cap", "half_life_days")}
        window = _preview_number(self["window_days"].value())
        if any(v is False for v in values.values()) or window is False:
            return "Fix the half-life, window or cap to see what one event earns by its age."
        return decay_preview_text(
            points=values["points"],
            cap=values["cap"],
            half_life_days=values["half_life_days"],
            window_days=window,
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "value" in data:
            try:
                data["value"] = rule_value_parse(data["value"], data.get("operator", ""))
            except (ValueError, json.JSONDecodeError) as exc:
                self.add_error("value", str(exc) if "range" in str(exc) else f"Not a valid value: {exc}.")
        return data

    def service_data(self) -> dict[str, Any]:
        """The rule as ``ruleset_update(rules=[…])`` takes it."""
        data = {name: self.cleaned_data.get(name) for name in RULE_FIELDS}
        data["min_count"] = data["min_count"] or 1
        for text in ("field", "operator", "event_type", "url_pattern", "topic"):
            data[text] = data[text] or ""
        if data["kind"] == RuleKind.FIT:
            data.update(event_type="", url_pattern="", topic="", campaign=None)
        else:
            data.update(field="", operator="", value=None)
        data["id"] = self.cleaned_data.get("id")
        return data

    @staticmethod
    def initial_for(rule: dict[str, Any]) -> dict[str, Any]:
        return {
            **{name: _plain(value) for name, value in rule.items()},
            "value": rule_value_text(rule.get("value")),
        }


class BaseRuleFormSet(forms.BaseFormSet):
    """The rules of a draft; a row ticked "remove" is dropped, an untouched empty row ignored."""

    def kept_forms(self) -> list[RuleForm]:
        return [
            form
            for form in self.forms
            if form.has_changed() or form.initial
            if not (self.can_delete and self._should_delete_form(form))
        ]

    def service_rules(self) -> list[dict[str, Any]]:
        rules = []
        for position, form in enumerate(self.kept_forms(), start=1):
            rules.append({**form.service_data(), "position": position})
        return rules


RuleFormSet = forms.formset_factory(RuleForm, formset=BaseRuleFormSet, extra=0, can_delete=True)


# --- the other pages ---------------------------------------------------------------------------
class DraftCreateForm(forms.Form):
    """A new draft, copied from a version (the published one unless another is chosen)."""

    based_on = forms.ModelChoiceField(
        queryset=Ruleset.objects.none(), required=False, empty_label=None, label="Copy of"
    )
    name = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: Any, versions=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if versions is not None:
            self.fields["based_on"].queryset = versions


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Comment")


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class PublishForm(forms.Form):
    """Publish now (no date) or at a date and time in the future."""

    at = forms.DateTimeField(
        required=False,
        label="Publish at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
    )

    def clean_at(self) -> datetime.datetime | None:
        at = self.cleaned_data.get("at")
        if at is not None and at <= timezone.now():
            raise forms.ValidationError("Choose a moment in the future, or publish now.")
        return at


class WhatIfForm(forms.Form):
    days = forms.IntegerField(min_value=7, max_value=MAX_DAYS, initial=90, label="Days of history")
    baseline = forms.ModelChoiceField(queryset=Ruleset.objects.none(), label="Compared with")

    def __init__(self, *args: Any, versions=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if versions is not None:
            self.fields["baseline"].queryset = versions


class FunnelForm(forms.Form):
    since = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start of the range is after its end.")
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)


class ContactRecycleForm(forms.Form):
    """A reason code (a select of the decision's codes) and free text beside it. The code is checked by
    the service (``scoring.lifecycle.reason_code_clean``), whose error lists the valid codes."""

    reason_code = forms.CharField(max_length=24, required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)


class ContactRejectForm(ContactRecycleForm):
    outcome = forms.ChoiceField(
        choices=[("recycle", "Recycle (nurture again)"), ("disqualify", "Disqualify")], initial="recycle"
    )


class QualifyForm(forms.Form):
    """The published version's SQL checklist as tick boxes, and a note."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)

    def __init__(self, *args: Any, checklist: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checklist = list(checklist or [])
        for index, item in enumerate(self.checklist):
            self.fields[f"check_{index}"] = forms.BooleanField(required=False, label=item)

    def checklist_answers(self) -> dict[str, bool]:
        return {item: bool(self.cleaned_data.get(f"check_{i}")) for i, item in enumerate(self.checklist)}
