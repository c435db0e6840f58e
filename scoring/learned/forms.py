"""Forms of the learned-score pages: retrain, backtest, a decision on a leakage warning's column, and the
reason a manual promote or roll back gives."""

from __future__ import annotations

from typing import Any

from django import forms

from scoring.choices import ColumnDecisionKind


class TrainForm(forms.Form):
    """Retrain now: the same bounds as the API's ``ModelTrainSerializer``."""

    reason = forms.CharField(max_length=500, required=False, label="Why")
    horizon_days = forms.IntegerField(min_value=7, max_value=365, initial=90, label="Horizon (days)")
    folds = forms.IntegerField(min_value=1, max_value=12, initial=3, label="Backtest folds")
    margin = forms.FloatField(
        min_value=0, max_value=1, initial=0.005, label="Margin to beat the champion (ROC AUC)"
    )


class BacktestForm(forms.Form):
    horizon_days = forms.IntegerField(min_value=7, max_value=365, initial=90, label="Horizon (days)")
    folds = forms.IntegerField(min_value=1, max_value=12, initial=3, label="Folds")


class ColumnDecisionForm(forms.Form):
    """A person's decision on a column a leakage warning names (``scoring.learned.decisions``)."""

    column = forms.CharField(max_length=300, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=ColumnDecisionKind.choices)
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Why (kept in the audit log)"}),
    )


class RegistryReasonForm(forms.Form):
    """Promote and roll back are manual overrides of the registry: the reason goes to the audit log."""

    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why: the reason is kept with the version and in the audit log."},
    )


def with_defaults(form_class: type[forms.Form], data) -> dict[str, Any]:
    """The submitted values, with each field's initial value where nothing was given (a bare button)."""
    values = {
        name: field.initial for name, field in form_class.base_fields.items() if field.initial is not None
    }
    values.update({name: value for name, value in data.items() if value not in ("", None)})
    return values


def errors_line(form: forms.Form) -> str:
    """Every error on one line, each after its field's label."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)
