"""People's decisions on columns a leakage check warned about, and what they resolve.

Light on purpose (no NumPy, scikit-learn or XGBoost): the model page reads them. The registry applies
them when a version is registered (``model_register``); trainers leave excluded columns out.
"""

from django.db import transaction

from revops.audit import change_record_create, model_snapshot
from scoring.choices import ColumnDecisionKind, ScoringModelKind
from scoring.models import ColumnDecision


class DecisionError(ValueError):
    """A decision that cannot be recorded; nothing was written."""


# A clean challenger replaces a champion whose report has unresolved leakage warnings if its figure is
# at most this much below: a leaky model's ROC AUC is inflated by what it should not know.
LEAKY_CHAMPION_MARGIN = 0.15


def column_decisions(kind: str) -> dict[str, ColumnDecision]:
    """The decisions people took on columns of ``kind``'s training data, by column."""
    return {d.column: d for d in ColumnDecision.objects.filter(kind=kind).select_related("decided_by")}


def excluded_columns(kind: str) -> list[str]:
    """Columns a person excluded from ``kind``'s training."""
    return sorted(
        ColumnDecision.objects.filter(kind=kind, decision=ColumnDecisionKind.EXCLUDED).values_list(
            "column", flat=True
        )
    )


@transaction.atomic
def column_decision_set(
    *, kind: str, column: str, decision: str, user=None, note: str = ""
) -> ColumnDecision:
    """Record (or change) a decision on a column of ``kind``'s training data — known before the outcome, or
    excluded from training — audited. Later trainings of the kind apply it."""
    if kind not in ScoringModelKind.values:
        raise DecisionError(f"unknown model kind {kind!r} (one of {', '.join(ScoringModelKind.values)})")
    if decision not in ColumnDecisionKind.values:
        raise DecisionError(f"unknown decision {decision!r} (one of {', '.join(ColumnDecisionKind.values)})")
    column = (column or "").strip()
    if not column:
        raise DecisionError("name the column the decision is about")
    if len(column) > 300:
        raise DecisionError("a column name has at most 300 characters")
    existing = ColumnDecision.objects.select_for_update().filter(kind=kind, column=column).first()
    before = None if existing is None else model_snapshot(existing)
    who = user if getattr(user, "is_authenticated", False) else None
    if existing is None:
        existing = ColumnDecision.objects.create(kind=kind, column=column, decision=decision, note=note,
                                                 decided_by=who)  # fmt: skip
    else:
        existing.decision, existing.note, existing.decided_by = decision, note, who
        existing.save(update_fields=["decision", "note", "decided_by", "updated"])
    change_record_create(actor=user, action="create" if before is None else "update", instance=existing,
                         before=before, after=model_snapshot(existing))  # fmt: skip
    return existing


def warnings_resolved(warnings, decisions: dict[str, ColumnDecision]) -> list[dict]:
    """The report's leakage warnings, each with its ``status``: ``confirmed`` or ``excluded`` when a person
    decided on its column (who, when, why), else ``unresolved``. A warning about the whole model (no
    column) is ``notice``: shown, never blocking."""
    out = []
    for warning in warnings or []:
        if not isinstance(warning, dict):
            continue
        column = (
            warning.get("column") or warning.get("feature")
            if "column" in warning or "feature" in warning
            else None
        )
        entry = {**warning}
        decision = decisions.get(column) if column else None
        if not column:
            entry["status"] = "notice"
        elif decision is None:
            entry["status"] = "unresolved"
        else:
            entry.update(status=decision.decision, decided_by=str(decision.decided_by or "command line"),
                         decided_at=decision.updated.isoformat(), note=decision.note)  # fmt: skip
        out.append(entry)
    return out


def unresolved(warnings) -> list[str]:
    """The columns whose leakage warnings nobody has decided on."""
    return [w.get("column") or w.get("feature") for w in warnings or [] if w.get("status") == "unresolved"]
