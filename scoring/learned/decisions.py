"""People's decisions on columns a leakage check warned about, and what they resolve; and the rule that
decides whether a new version replaces its champion (``champion_decision``).

Light on purpose (no NumPy, scikit-learn or XGBoost): the model pages read them. The registry applies
them when a version is registered (``model_register``); trainers leave excluded columns out; the compare
page shows what the rule says of a challenger against today's champion.
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
# A version is compared by its champion family's pooled ROC AUC; reports from before families name none,
# and their XGBoost row stands for it.
PRIMARY_METRIC_PATH = ("champion", "roc_auc")
FALLBACK_METRIC_PATHS = {PRIMARY_METRIC_PATH: ("models", "xgboost", "roc_auc")}
# What a retrained version must gain over its champion unless the training says otherwise.
DEFAULT_MARGIN = 0.005


def metric_at(metrics: dict | None, path: tuple[str, ...]) -> float | None:
    """The number at ``path`` in a report (its fallback path for reports from before it), or None."""
    value = metrics or {}
    for key in path:
        if not isinstance(value, dict):
            value = None
            break
        value = value.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    fallback = FALLBACK_METRIC_PATHS.get(tuple(path))
    return metric_at(metrics, fallback) if fallback else None


def metric_label(path_keys: tuple[str, ...], metrics: dict | None) -> str:
    """How a reason names the metric: "Backtest ROC AUC", "Cross-validated ROC AUC", …"""
    how = "Cross-validated" if (metrics or {}).get("validation") == "cross_validation" else "Backtest"
    what = "ROC AUC" if path_keys and path_keys[-1] == "roc_auc" else ".".join(path_keys)
    return f"{how} {what}"


def champion_decision(
    *,
    metrics: dict,
    blocking: list[str],
    current_version: int | None,
    current_metrics: dict | None,
    current_blocking: list[str],
    path_keys: tuple[str, ...] = PRIMARY_METRIC_PATH,
    margin: float = DEFAULT_MARGIN,
) -> tuple[bool, str]:
    """Whether a version with report ``metrics`` (and the columns of its unresolved leakage warnings,
    ``blocking``) becomes champion over the current one (``current_version`` None: there is none), and
    the reason in words. The rule, first match wins: an unresolved warning keeps it a challenger; the
    first version of a kind is champion; a clean version replaces a champion with unresolved warnings if
    it is at most ``LEAKY_CHAMPION_MARGIN`` below it; else it must beat the champion's metric by
    ``margin``."""
    name, label = ".".join(path_keys), metric_label(path_keys, metrics)
    new_value = metric_at(metrics, path_keys)
    old_value = None if current_version is None else metric_at(current_metrics, path_keys)
    if blocking:
        return False, (
            f"Not champion automatically: {len(blocking)} unresolved leakage warning"
            f"{'s' if len(blocking) != 1 else ''} ({', '.join(repr(c) for c in blocking)}). Confirm each "
            "column as known before the outcome or exclude it, and train again — or promote by hand."
        )
    if current_version is None:
        return True, "First model: champion by default."
    if (
        current_blocking
        and new_value is not None
        and old_value is not None
        and (new_value >= old_value - LEAKY_CHAMPION_MARGIN)
    ):
        return True, (
            f"Replaces v{current_version}, whose report has unresolved leakage warnings "
            f"({', '.join(repr(c) for c in current_blocking)}): its {label} ({old_value:.4f}) "
            f"flatters it. This version has none, and its {new_value:.4f} is within the stated margin "
            f"{LEAKY_CHAMPION_MARGIN} below it."
        )
    if new_value is not None and old_value is not None and new_value >= old_value + margin:
        return True, (
            f"{label} {new_value:.4f} beats champion v{current_version} ({old_value:.4f}) "
            f"by at least {margin}."
        )
    shown = "n/a" if new_value is None else f"{new_value:.4f}"
    old_shown = "n/a" if old_value is None else f"{old_value:.4f}"
    reason = (
        f"{label} {shown} does not beat champion v{current_version} ({old_shown}) by the margin {margin}."
    )
    if new_value is None or old_value is None:
        reason += f" (no comparable {name} in both reports)"
    return False, reason


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
            who = decision.decided_by  # shown on the model page: the full name, not the username
            entry.update(status=decision.decision,
                         decided_by=(who.get_full_name() or who.get_username()) if who else "command line",
                         decided_at=decision.updated.isoformat(), note=decision.note)  # fmt: skip
        out.append(entry)
    return out


def unresolved(warnings) -> list[str]:
    """The columns whose leakage warnings nobody has decided on."""
    return [w.get("column") or w.get("feature") for w in warnings or [] if w.get("status") == "unresolved"]
