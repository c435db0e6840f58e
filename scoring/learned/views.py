"""The learned-score pages: model versions and their backtest reports, retraining and backtests as jobs,
promote and roll back, the in-market accounts list, and the learned scores section of an account page.

Thin views: reads are a few bounded queries (a model version's artefact bytes are never loaded), writes
call one service each — ``scoring.learned.jobs`` (retrain, backtest), ``scoring.learned.registry``
(promote, roll back, both audited there) and ``scoring.learned.predictions`` (rescore accounts). The
views check the role's
Django permission first, so a user without it gets a 403 before any service runs.

The backtest report (``scoring.learned.backtest.run`` or the look-alike models' cross-validation) is turned
into tables and chart data here, tolerating reports written before a figure existed: a missing curve
shows a note instead of a chart. Per compared model (``report["models"][name]``) the curves are read from
``roc_curve`` / ``roc`` (``{fpr, tpr}`` lists or ``[[fpr, tpr], …]``), ``calibration`` (``{predicted,
observed}``), ``lift_by_decile`` / ``capture_by_decile`` (ten values, top decile first) or ``deciles``
(``{lift, cumulative_capture}`` lists, or one ``{lift, capture}`` row per decile), and ``score_histogram``
/ ``histogram`` (``{edges, positives, negatives}``, counts or shares).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from accounts.choices import DealStatus
from accounts.filtersets import deal_condition
from revops.choices import JobStatus
from revops.filtersets import WidenedFilterSet
from revops.models import JobRun
from revops.views import Column, ObjectListView, job_start_say
from scoring import metrics, pipeline
from scoring.choices import (
    BAND_RANK,
    Band,
    BuyingStage,
    ColumnDecisionKind,
    ScoringModelKind,
    ScoringModelStatus,
)
from scoring.filtersets import (
    AccountModelScoreFilterSet,
    ScoringModelFilterSet,
    scoring_model_list,
)
from scoring.learned import decisions
from scoring.learned import jobs as ml_jobs
from scoring.learned import selectors as learned
from scoring.learned.decisions import DEFAULT_MARGIN, PRIMARY_METRIC_PATH, champion_decision
from scoring.learned.forms import (
    BacktestForm,
    ColumnDecisionForm,
    RegistryReasonForm,
    TrainForm,
    errors_line,
    with_defaults,
)
from scoring.learned.progress import STEPS as PROGRESS_STEPS
from scoring.learned.progress import remaining_words
from scoring.learned.words import account_explanation
from scoring.models import AccountModelScore, ScoringModel

# Jobs shown on the models page and followed on the job page (the full rescore is ``pipeline.KIND``).
RESCORE_KIND = learned.RESCORE_KIND
RECENT_JOBS = 8
MAX_HISTORY_POINTS = 365
MAX_TRANSITIONS = 50

MODEL_ORDER = ("xgboost", "logistic_regression", "blend", "plain_xgboost", "naive_bayes", "rules",
               "observable_ceiling", "ground_truth")  # fmt: skip
ORACLES = frozenset({"observable_ceiling", "ground_truth"})
SHORT_LABELS = {
    "logistic_regression": "Logistic",
    "ground_truth": "Ground truth",
    "plain_xgboost": "Plain XGBoost",
    "observable_ceiling": "Ceiling",
}
MODEL_LABELS = {
    "xgboost": "XGBoost",
    "logistic_regression": "Logistic regression",
    "blend": "Blend (XGBoost + logistic)",
    "plain_xgboost": "Plain XGBoost (an analyst's)",
    "naive_bayes": "Naive Bayes",
    "rules": "Rules score",
    "observable_ceiling": "Observable ceiling (demo oracle)",
    "ground_truth": "Ground truth (demo oracle)",
}
# Colour index in the charts' palette (primary, secondary, success, warning, info, danger).
MODEL_COLOURS = {
    "xgboost": 0,
    "logistic_regression": 4,
    "blend": 5,
    "plain_xgboost": 3,
    "naive_bayes": 3,
    "rules": 1,
    "observable_ceiling": 2,
    "ground_truth": 2,
}
STAGE_COLOURS = {
    BuyingStage.TARGET: "secondary",
    BuyingStage.AWARENESS: "info",
    BuyingStage.CONSIDERATION: "primary",
    BuyingStage.DECISION: "warning",
    BuyingStage.PURCHASE: "success",
}
BAND_COLOURS = {Band.HIGH: "success", Band.MEDIUM: "warning", Band.LOW: "secondary"}
STATUS_COLOURS = {
    ScoringModelStatus.CHAMPION: "success",
    ScoringModelStatus.CHALLENGER: "info",
    ScoringModelStatus.RETIRED: "secondary",
}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _number(value: Any) -> float | None:
    """A finite float, or ``None`` for anything else (missing figures, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _numbers(values: Any) -> list[float | None] | None:
    if not isinstance(values, list | tuple) or not values:
        return None
    return [_number(v) for v in values]


# --- the backtest report as tables and charts ------------------------------------------------------------
METRIC_COLUMNS = [
    # (key, label, format, higher is better)
    ("roc_auc", "ROC AUC", "decimal", True),
    ("pr_auc", "PR AUC", "decimal", True),
    ("top_decile_lift", "Top-decile lift", "times", True),
    ("top_decile_capture", "Top-decile capture", "percent", True),
    ("precision_at_100", "Precision at 100", "percent", True),
    ("brier", "Brier", "decimal", False),
]


def _format(value: float | None, how: str) -> str:
    if value is None:
        return "—"
    if how == "percent":
        return f"{value:.1%}"
    if how == "times":
        return f"×{value:.2f}"
    return f"{value:.3f}"


def _ordered_models(models: dict) -> list[str]:
    known = [m for m in MODEL_ORDER if m in models]
    return known + sorted(m for m in models if m not in MODEL_ORDER)


def _label(name: str) -> str:
    return MODEL_LABELS.get(name, name.replace("_", " ").capitalize())


def comparison_rows(models: dict, champion: str | None = None) -> list[dict]:
    """One row per compared model; the best real model (not an oracle) of each column marked, and the
    champion family's row."""
    names = [n for n in _ordered_models(models) if isinstance(models.get(n), dict)]
    best: dict[str, float] = {}
    for key, _, _, higher in METRIC_COLUMNS:
        values = [_number(models[n].get(key)) for n in names if n not in ORACLES]
        values = [v for v in values if v is not None]
        if len(values) > 1:
            best[key] = max(values) if higher else min(values)
    rows = []
    for name in names:
        figures = models[name]
        cells = []
        for key, _, how, _ in METRIC_COLUMNS:
            value = _number(figures.get(key))
            cells.append(
                {
                    "key": key,
                    "text": _format(value, how),
                    "best": name not in ORACLES and value is not None and best.get(key) == value,
                }
            )
        rows.append(
            {
                "name": name,
                "label": _label(name),
                "cells": cells,
                "rows": figures.get("rows"),
                "positives": figures.get("positives"),
                "ceiling": name in ORACLES,
                "champion": name == champion,
            }
        )
    return rows


def _interval(ci: list | None) -> str:
    return f"{ci[0]:+.3f} … {ci[1]:+.3f}" if ci and None not in ci else "—"


def champion_context(champion: dict, family: str | None) -> dict | None:
    """The champion family and each other row's difference to it, with its bootstrap interval, in words."""
    if not family:
        return None
    rows = []
    differences = champion.get("differences") if isinstance(champion.get("differences"), dict) else {}
    for name in _ordered_models(differences):
        d = differences[name] if isinstance(differences[name], dict) else {}
        delta, ci = _number(d.get("delta")), _numbers(d.get("ci"))
        if delta is None:
            continue
        if name in ORACLES:
            verdict = "an oracle: the champion is measured against it, not beside it"
        elif ci and ci[0] is not None and ci[0] > 0:
            verdict = "the champion is better (the whole interval is above zero)"
        elif ci and ci[1] is not None and ci[1] < 0:
            verdict = "this one is better"
        else:
            verdict = "within noise: the interval includes zero"
        rows.append(
            {
                "name": name,
                "label": _label(name),
                "roc_auc": _format(_number(d.get("roc_auc")), "number"),
                "delta": f"{delta:+.3f}",
                "ci": _interval(ci),
                "verdict": verdict,
                "oracle": name in ORACLES,
            }
        )
    return {
        "family": family,
        "label": _label(family),
        "roc_auc": _format(_number(champion.get("roc_auc")), "number"),
        "rows": rows,
    }


def groups_context(groups) -> dict | None:
    """What each feature group earns (the champion refit without it), best first."""
    if not isinstance(groups, dict) or not isinstance(groups.get("groups"), list):
        return None
    rows = []
    for g in groups["groups"]:
        earns, ci = _number(g.get("earns")), _numbers(g.get("ci"))
        if earns is None:
            continue
        rows.append(
            {
                "label": g.get("label") or g.get("group"),
                "columns": g.get("columns"),
                "without": _format(_number(g.get("roc_auc_without")), "number"),
                "earns": f"{earns:+.3f}",
                "ci": _interval(ci),
                "clear": bool(ci and ci[0] is not None and ci[0] > 0),
            }
        )
    return {
        "family": _label(groups.get("family", "")),
        "test_date": groups.get("test_date"),
        "roc_auc": _format(_number(groups.get("roc_auc")), "number"),
        "rows": rows,
    }


def fold_rows(folds: list) -> tuple[list[str], list[dict]]:
    """The per-fold table: which dates (or which fold) and every model's ROC AUC and top-decile lift."""
    names: list[str] = []
    for fold in folds:
        for name in _ordered_models((fold or {}).get("models") or {}):
            if name not in names:
                names.append(name)
    names = [n for n in _ordered_models(dict.fromkeys(names))]
    rows = []
    for index, fold in enumerate(folds, start=1):
        if not isinstance(fold, dict):
            continue
        models = fold.get("models") or {}
        train = fold.get("train_dates") or []
        test = fold.get("test_dates") or []
        first = next((m for m in models.values() if isinstance(m, dict)), {})
        rows.append(
            {
                "label": ", ".join(test) if test else f"Fold {fold.get('fold', index)}",
                "train": f"{train[0]} … {train[-1]}" if train else "",
                "validation": ", ".join(fold.get("validation_dates") or []),
                "train_rows": fold.get("train_rows"),
                "test_rows": fold.get("test_rows", first.get("rows")),
                "positives": first.get("positives"),
                "cells": [
                    {
                        "auc": _format(_number((models.get(n) or {}).get("roc_auc")), "decimal"),
                        "lift": _format(_number((models.get(n) or {}).get("top_decile_lift")), "times"),
                    }
                    for n in names
                ],
            }
        )
    return [SHORT_LABELS.get(n) or _label(n) for n in names], rows


def _first(figures: dict, *keys: str) -> Any:
    for key in keys:
        if figures.get(key) is not None:
            return figures[key]
    return None


def _xy(curve: Any, x_keys: tuple[str, ...], y_keys: tuple[str, ...]) -> list[dict] | None:
    """Points ``[{x, y}]`` from ``{x_key: [...], y_key: [...]}``, ``[[x, y], …]`` or ``[{x_key, y_key}]``."""
    points: list[dict] = []
    if isinstance(curve, dict):
        xs = _numbers(_first(curve, *x_keys))
        ys = _numbers(_first(curve, *y_keys))
        if xs and ys:
            points = [
                {"x": x, "y": y} for x, y in zip(xs, ys, strict=False) if x is not None and y is not None
            ]
    elif isinstance(curve, list | tuple):
        for item in curve:
            if isinstance(item, list | tuple) and len(item) >= 2:
                x, y = _number(item[0]), _number(item[1])
            elif isinstance(item, dict):
                x, y = _number(_first(item, *x_keys)), _number(_first(item, *y_keys))
            else:
                continue
            if x is not None and y is not None:
                points.append({"x": x, "y": y})
    return points or None


def _by_decile(figures: dict, what: str) -> list[float | None] | None:
    """Ten values, top decile first, of ``what`` ("lift" or "capture"), wherever the report keeps them."""
    direct = _first(figures, f"{what}_by_decile", f"decile_{what}", f"{what}_curve")
    if isinstance(direct, list):
        return _numbers(direct)
    if isinstance(direct, dict):
        return _numbers(_first(direct, "values", what, "y"))
    deciles = _first(figures, "deciles", "by_decile", "lift_table", "gains")
    keys = {"lift": ("lift",), "capture": ("cumulative_capture", "capture", "gain", "cumulative_gain")}[what]
    if isinstance(deciles, dict):
        return _numbers(_first(deciles, *keys))
    if isinstance(deciles, list) and deciles and isinstance(deciles[0], dict):
        return [_number(_first(row, *keys)) for row in deciles] or None
    return None


def _edge(value: float) -> str:
    """A histogram bin edge: probabilities to two decimals, points (the rules score) as whole numbers."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) <= 1 else f"{value:,.0f}"


def _histogram(figures: dict) -> dict | None:
    """``{labels, positives, negatives}`` as shares of each class, from the report's score histogram."""
    hist = _first(figures, "score_histogram", "histogram", "score_distribution", "distribution")
    if not isinstance(hist, dict):
        return None
    positives = _numbers(_first(hist, "positives", "positive", "pos"))
    negatives = _numbers(_first(hist, "negatives", "negative", "neg"))
    if not positives or not negatives or len(positives) != len(negatives):
        return None
    edges = _numbers(_first(hist, "edges", "bin_edges", "bins"))
    if edges and len(edges) == len(positives) + 1 and None not in edges:
        labels = [f"{_edge(lo)}–{_edge(hi)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    elif edges and len(edges) == len(positives) and None not in edges:
        labels = [_edge(lo) for lo in edges]
    else:
        labels = [str(i + 1) for i in range(len(positives))]

    def shares(values: list[float | None]) -> list[float]:
        numbers = [v or 0.0 for v in values]
        total = sum(numbers)
        # Already shares (sum to about one) or counts: either way, show each class's share per bin.
        return [round(v / total, 4) if total else 0.0 for v in numbers]

    return {"labels": labels, "positives": shares(positives), "negatives": shares(negatives)}


def _series(name: str, **extra: Any) -> dict:
    return {
        "label": _label(name),
        "colour": MODEL_COLOURS.get(name, 5),
        "dashed": name == "ground_truth",
        **extra,
    }


def report_charts(models: dict) -> dict[str, dict | None]:
    """Chart data for the curves the report holds; ``None`` for a chart it has nothing for."""
    names = [n for n in _ordered_models(models) if isinstance(models.get(n), dict)]
    roc, calibration, lift, capture = [], [], [], []
    for name in names:
        figures = models[name]
        points = _xy(
            _first(figures, "roc_curve", "roc"),
            ("fpr", "x", "false_positive_rate"),
            ("tpr", "y", "true_positive_rate"),
        )
        if points:
            roc.append(_series(name, points=points))
        calib = figures.get("calibration")
        points = _xy(calib, ("predicted", "mean_predicted", "x"), ("observed", "fraction_positive", "y"))
        if points:
            calibration.append(_series(name, points=points))
        values = _by_decile(figures, "lift")
        if values:
            lift.append(_series(name, values=values))
        values = _by_decile(figures, "capture")
        if values:
            capture.append(_series(name, values=values))
    ranked = "Accounts ranked by score (top 10%, 20%, …)"

    def deciles(series: list[dict]) -> list[str]:
        return [f"{i * 10}%" for i in range(1, 1 + max(len(s["values"]) for s in series))]

    charts: dict[str, Any] = {"roc": None, "calibration": None, "lift": None, "capture": None}
    if roc:
        charts["roc"] = {"kind": "xy", "series": roc, "diagonal": True, "x_max": 1, "y_max": 1,
                         "x_title": "False positive rate", "y_title": "True positive rate"}  # fmt: skip
    if calibration:
        charts["calibration"] = {"kind": "xy", "series": calibration, "diagonal": True, "x_max": 1,
                                 "y_max": 1, "markers": True, "x_title": "Predicted probability",
                                 "y_title": "Observed opening rate"}  # fmt: skip
    if lift:
        charts["lift"] = {"kind": "bar", "series": lift, "labels": deciles(lift), "x_title": ranked,
                          "y_title": "Lift over the base rate"}  # fmt: skip
    if capture:
        charts["capture"] = {"kind": "line", "series": capture, "labels": deciles(capture), "x_title": ranked,
                             "y_title": "Share of all positives captured", "y_max": 1, "percent": True,
                             "diagonal": True}  # fmt: skip
    distributions = []
    for name in names:
        hist = _histogram(models[name])
        if hist:
            distributions.append(
                {
                    "name": name,
                    "label": _label(name),
                    "id": f"chart-distribution-{name}",
                    "chart": {
                        "kind": "bar",
                        "labels": hist["labels"],
                        "x_title": "Score",
                        "y_title": "Share of the class",
                        "percent": True,
                        "series": [
                            {"label": "Opened an opportunity", "values": hist["positives"], "colour": 2},
                            {"label": "Did not", "values": hist["negatives"], "colour": 1},
                        ],
                    },
                }
            )
    charts["distributions"] = distributions or None
    return charts


def report_context(report: dict | None, *, prefix: str = "report", kind: str | None = None) -> dict[str, Any]:
    """Everything the report include shows: tables, chart data, warnings, notes (all optional). With the
    version's ``kind``, each leakage warning carries the decision people have taken on its column since."""
    report = report if isinstance(report, dict) else {}
    models = report.get("models") if isinstance(report.get("models"), dict) else {}
    fold_labels, folds = fold_rows(report.get("folds") if isinstance(report.get("folds"), list) else [])
    champion = report.get("champion") if isinstance(report.get("champion"), dict) else {}
    family = champion.get("family") if champion.get("family") in models else None
    primary_name = family or "xgboost"
    primary = models.get(primary_name) if isinstance(models.get(primary_name), dict) else {}
    warnings = [w for w in report.get("leakage_warnings") or [] if isinstance(w, dict)]
    if kind:
        warnings = decisions.warnings_resolved(warnings, decisions.column_decisions(kind))
    notes = report.get("notes") if isinstance(report.get("notes"), dict) else {}
    return {
        "prefix": prefix,
        "has_report": bool(models),
        "metric_columns": [label for _, label, _, _ in METRIC_COLUMNS],
        "comparison": comparison_rows(models, family),
        "champion": champion_context(champion, family),
        "feature_groups": groups_context(report.get("feature_groups")),
        "dropped_features": [d for d in report.get("dropped_features") or [] if isinstance(d, dict)],
        "fold_labels": fold_labels,
        "folds": folds,
        "charts": report_charts(models),
        "warnings": warnings,
        "notes": [(_label(k), v) for k, v in notes.items() if isinstance(v, str)],
        "validation": "cross-validated" if report.get("validation") == "cross_validation" else "time-based",
        "as_of": report.get("as_of"),
        "horizon_days": report.get("horizon_days"),
        "snapshot_dates": report.get("snapshot_dates") or [],
        "rows": primary.get("rows", report.get("rows")),
        "positives": primary.get("positives", report.get("positives")),
        "base_rate": _format(_number(primary.get("base_rate")), "percent"),
        "seconds": (report.get("seconds") or {}).get("total")
        if isinstance(report.get("seconds"), dict)
        else report.get("seconds"),
    }


# --- model versions ---------------------------------------------------------------------------------------
class ScoringModelListView(ObjectListView):
    """Every trained version (champion, challengers, retired) with its headline backtest figures."""

    model = ScoringModel
    filterset_class = ScoringModelFilterSet
    template_name = "scoring/learned/model_list.html"
    columns = [
        Column("version", "Version", ("kind", "version")),
        Column("status", "Status", ("status",)),
        Column("roc_auc", "ROC AUC", ("roc_auc",), numeric=True),
        Column("pr_auc", "PR AUC", ("pr_auc",), numeric=True),
        Column("window", "Training window", ("train_end",)),
        Column("trained", "Trained", ("trained_at",)),
        Column("reason", "Reason"),
    ]
    default_sort = "-trained"
    primary_filters = ["kind", "status"]

    def get_permission_required(self) -> tuple[str, ...]:
        return ("scoring.view_scoringmodel",)

    def get_queryset(self) -> QuerySet:
        return scoring_model_list(user=self.request.user).select_related("trained_by")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        champions = learned.champions_by_kind(user=user)
        context.update(
            {
                "champions": [(label, champions.get(kind)) for kind, label in ScoringModelKind.choices],
                "status_colours": STATUS_COLOURS,
                "can_train": user.has_perm("scoring.rescore_accounts"),
                "train_form": TrainForm(),
                "backtest_form": BacktestForm(),
                "jobs": learned.learned_jobs_recent(user=user, limit=RECENT_JOBS)
                if user.has_perm("revops.view_jobrun")
                else [],
            }
        )
        return context


class ScoringModelDetailView(PermissionRequiredMixin, TemplateView):
    """One version: its backtest report as charts and tables, features, parameters, window, checksum."""

    permission_required = "scoring.view_scoringmodel"
    template_name = "scoring/learned/model_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        model = learned.model_get(user=user, pk=self.kwargs["pk"])
        can_promote = user.has_perm("scoring.promote_scoringmodel")
        champion = model.status == ScoringModelStatus.CHAMPION
        # A roll back needs an earlier champion of the same kind to give the place back to.
        can_roll_back = can_promote and champion and learned.model_has_predecessor(model)
        current = learned.champion_other(model)
        params = model.params if isinstance(model.params, dict) else {}
        context.update(
            {
                "model": model,
                "object": model,
                "status_colour": STATUS_COLOURS.get(model.status, "secondary"),
                "can_promote": can_promote and not champion,
                "can_roll_back": can_roll_back,
                "reason_form": RegistryReasonForm(),
                "features": list(model.features or []),
                # Long lists (the fit models' score quantiles, the top keys) stay out of the table.
                "params": sorted(
                    (key, value)
                    for key, value in params.items()
                    if not (isinstance(value, list | dict) and len(value) > 12)
                ),
                "params_omitted": sorted(
                    key for key, value in params.items() if isinstance(value, list | dict) and len(value) > 12
                ),
                "status_history": _status_history(model),
                "artefact_file": _media_relative(model.artefact_path),
                "can_decide": can_promote,
                **report_context(model.metrics, kind=model.kind),
                # After the report: its ``champion`` is the champion family inside the report.
                "current_champion": current,
            }
        )
        return context


MAX_STATUS_CHANGES = 20


def _media_relative(path: str) -> str:
    """A stored file's path as seen from the media folder (the server's own layout stays private)."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
    except ValueError:
        return Path(path).name


def _status_history(model: ScoringModel) -> list[dict[str, Any]]:
    """The version's status changes from the audit log, newest first: when, who, from → to, and why —
    the reason each change gave (the version itself keeps only the latest)."""
    out = []
    for record in learned.model_changes(model, limit=MAX_STATUS_CHANGES):
        before, after = record.before or {}, record.after or {}
        if before and before.get("status") == after.get("status"):
            continue  # not a status change
        out.append(
            {
                "time": record.time,
                "actor": record.actor,
                "from": ScoringModelStatus(before["status"]).label if before.get("status") else "",
                "to": ScoringModelStatus(after["status"]).label if after.get("status") else "",
                "reason": after.get("reason", ""),
            }
        )
    return out


# --- a challenger beside the champion --------------------------------------------------------------------
COMPARE_GROUPS = 8  # feature groups shown side by side, by what they earn the challenger
COMPARE_FEATURES = 12  # features added or dropped, named
# The metric the registry compares versions by (``decisions.PRIMARY_METRIC_PATH``), in words.
METRIC_WORDS = (
    "pooled ROC AUC of its shipped family (XGBoost's in reports from before families)"
    if PRIMARY_METRIC_PATH == ("champion", "roc_auc")
    else ".".join(PRIMARY_METRIC_PATH)
)


def _shipped(report: dict) -> tuple[str | None, dict]:
    """The family a report ships (its champion family; XGBoost for reports from before families) and its
    pooled figures."""
    models = report.get("models") if isinstance(report.get("models"), dict) else {}
    champion = report.get("champion") if isinstance(report.get("champion"), dict) else {}
    family = champion.get("family") if champion.get("family") in models else None
    family = family or ("xgboost" if isinstance(models.get("xgboost"), dict) else None)
    return family, (models.get(family) if family else None) or {}


def _calibration_gap(figures: dict) -> float | None:
    """The mean distance between the observed rate and the predicted probability over the calibration
    bins: 0 is perfectly calibrated."""
    points = _xy(figures.get("calibration"), ("predicted", "mean_predicted", "x"),
                 ("observed", "fraction_positive", "y"))  # fmt: skip
    return sum(abs(p["y"] - p["x"]) for p in points) / len(points) if points else None


def _difference(old: float | None, new: float | None, how: str, higher: bool) -> dict:
    """The challenger minus the champion, in the figure's own format, and which side it favours."""
    if old is None or new is None:
        return {"text": "—", "favours": ""}
    delta = new - old
    if how == "percent":
        text = f"{delta * 100:+.1f} pts"
    elif how == "times":
        text = f"{delta:+.2f}×"
    elif how == "count":
        text = f"{delta:+,.0f}"
    else:
        text = f"{delta:+.3f}"
    favours = "" if abs(delta) < 1e-12 else ("challenger" if (delta > 0) == higher else "champion")
    return {"text": text, "favours": favours}


def _cell(value: float | None, how: str) -> str:
    if how == "count":
        return "—" if value is None else f"{value:,.0f}"
    return _format(value, how)


def _figure_rows(old: dict, new: dict) -> list[dict]:
    """The shipped families' pooled figures side by side, with the difference."""
    rows = []
    specs = [
        *METRIC_COLUMNS,
        ("calibration_gap", "Calibration gap (mean |observed − predicted|)", "decimal", False),
    ]
    for key, label, how, higher in specs:
        a = _calibration_gap(old) if key == "calibration_gap" else _number(old.get(key))
        b = _calibration_gap(new) if key == "calibration_gap" else _number(new.get(key))
        if a is None and b is None:
            continue
        rows.append({"key": key, "label": label, "champion": _cell(a, how), "challenger": _cell(b, how),
                     "difference": _difference(a, b, how, higher)})  # fmt: skip
    for key, label, how in (("rows", "Test rows", "count"), ("positives", "Positives among them", "count"),
                            ("base_rate", "Base rate", "percent")):  # fmt: skip
        a, b = _number(old.get(key)), _number(new.get(key))
        if a is None and b is None:
            continue
        rows.append({"key": key, "label": label, "champion": _cell(a, how), "challenger": _cell(b, how),
                     "difference": {"text": "", "favours": ""}})  # fmt: skip
    return rows


def _fold_auc(report: dict, family: str | None) -> dict[str, float]:
    """The shipped family's ROC AUC per test date (time-based backtests; cross-validated folds have none)."""
    out = {}
    for fold in report.get("folds") if isinstance(report.get("folds"), list) else []:
        if not isinstance(fold, dict) or not fold.get("test_dates") or not family:
            continue
        auc = _number(((fold.get("models") or {}).get(family) or {}).get("roc_auc"))
        if auc is not None:
            out[", ".join(fold["test_dates"])] = auc
    return out


def _significance(old: dict, old_family, new: dict, new_family) -> dict:
    """How sure the difference is: a stored paired bootstrap of the two versions if the report has one
    (``versus_champion``: ``{delta, ci}``), else the test dates both backtests share, one by one."""
    stored = new.get("versus_champion") if isinstance(new.get("versus_champion"), dict) else None
    ci = _numbers((stored or {}).get("ci"))
    if stored and ci and len(ci) == 2 and None not in ci:
        verdict = ("the challenger is better" if ci[0] > 0 else "the champion is better" if ci[1] < 0
                   else "within noise: the interval includes zero")  # fmt: skip
        return {"kind": "bootstrap", "interval": _interval(ci), "words": f"Paired bootstrap: {verdict}."}
    a, b = _fold_auc(old, old_family), _fold_auc(new, new_family)
    shared = [d for d in b if d in a]
    dates = [{"date": d, "champion": _format(a[d], "decimal"), "challenger": _format(b[d], "decimal"),
              "difference": _difference(a[d], b[d], "decimal", True)} for d in shared]  # fmt: skip
    if not shared:
        words = ("No paired bootstrap of these two versions is stored, and their backtests share no test "
                 "date: the difference is that of the pooled figures, without an interval.")  # fmt: skip
    else:
        ahead = sum(1 for d in shared if b[d] > a[d])
        words = (f"No paired bootstrap of these two versions is stored. On the {len(shared)} test date"
                 f"{pluralize(len(shared))} both backtests share, the challenger ranks better "
                 f"on {ahead}.")  # fmt: skip
    return {"kind": "dates", "dates": dates, "words": words}


def pluralize(n: int) -> str:
    return "" if n == 1 else "s"


def _group_rows(old: dict, new: dict) -> list[dict]:
    """What each feature group earns each version (its refit without the group), top groups first."""

    def earned(report: dict) -> dict[str, tuple[str, float]]:
        groups = report.get("feature_groups") if isinstance(report.get("feature_groups"), dict) else {}
        out = {}
        for g in groups.get("groups") or []:
            if isinstance(g, dict) and _number(g.get("earns")) is not None:
                out[g.get("group") or g.get("label")] = (
                    g.get("label") or g.get("group"),
                    _number(g["earns"]),
                )
        return out

    a, b = earned(old), earned(new)
    names = sorted(set(a) | set(b), key=lambda n: -max(a.get(n, ("", -1.0))[1], b.get(n, ("", -1.0))[1]))
    return [
        {
            "label": (b.get(n) or a.get(n))[0],
            "champion": f"{a[n][1]:+.3f}" if n in a else "—",
            "challenger": f"{b[n][1]:+.3f}" if n in b else "—",
            "difference": _difference(
                a[n][1] if n in a else None, b[n][1] if n in b else None, "decimal", True
            ),
        }
        for n in names[:COMPARE_GROUPS]
    ]


def _version_facts(model: ScoringModel | None, report: dict, family: str | None) -> dict:
    sampling = report.get("sampling") if isinstance(report.get("sampling"), dict) else {}
    seconds = report.get("seconds")
    seconds = seconds.get("total") if isinstance(seconds, dict) else seconds
    return {
        "model": model,
        "family": _label(family) if family else "—",
        "validation": "cross-validated"
        if report.get("validation") == "cross_validation"
        else "time-based backtest",
        "snapshots": len(report.get("snapshot_dates") or []) or None,
        "as_of": report.get("as_of"),
        "sampling": sampling.get("note") or "",
        "features": len(model.features or []) if model else 0,
        "seconds": _duration_words(_number(seconds)) if _number(seconds) is not None else "",
    }


def versions_compare(champion: ScoringModel | None, challenger: ScoringModel) -> dict[str, Any]:
    """A challenger beside the champion of its kind (or alone when there is none): the shipped families'
    figures and their differences, how sure the difference is, what each feature group earns, features
    added and dropped, the data behind each, and what the registry's rule decides — promote or keep the
    champion — with its reason. Old reports lacking a figure show "—"."""
    new = challenger.metrics if isinstance(challenger.metrics, dict) else {}
    old = (champion.metrics if champion and isinstance(champion.metrics, dict) else {}) if champion else {}
    new_family, new_figures = _shipped(new)
    old_family, old_figures = _shipped(old)
    kind_decisions = decisions.column_decisions(challenger.kind)
    blocking = decisions.unresolved(decisions.warnings_resolved(new.get("leakage_warnings"), kind_decisions))
    old_blocking = decisions.unresolved(
        decisions.warnings_resolved(old.get("leakage_warnings"), kind_decisions)
    )
    wins, reason = champion_decision(
        metrics=new, blocking=blocking, current_version=champion.version if champion else None,
        current_metrics=old, current_blocking=old_blocking, margin=DEFAULT_MARGIN,
    )  # fmt: skip
    old_features, new_features = (
        set(champion.features or []) if champion else set(),
        set(challenger.features or []),
    )
    added, dropped = sorted(new_features - old_features), sorted(old_features - new_features)
    return {
        "champion_version": champion,
        "challenger_version": challenger,
        "champion_facts": _version_facts(champion, old, old_family) if champion else None,
        "challenger_facts": _version_facts(challenger, new, new_family),
        "figures": _figure_rows(old_figures, new_figures),
        "significance": _significance(old, old_family, new, new_family) if champion else None,
        "groups": _group_rows(old, new),
        "features_added": added[:COMPARE_FEATURES],
        "features_added_more": max(0, len(added) - COMPARE_FEATURES),
        "features_dropped": dropped[:COMPARE_FEATURES],
        "features_dropped_more": max(0, len(dropped) - COMPARE_FEATURES),
        "decision": {
            "promote": wins,
            "outcome": "promote" if wins else "keep champion",
            "reason": reason,
            "rule": (
                "The registry's rule, as at registration: a version with a leakage warning nobody has "
                "decided on waits for a person; the first version of a kind is champion; a clean version "
                "replaces a champion whose report has unresolved leakage warnings unless it is far below "
                f"it; otherwise its {METRIC_WORDS} must beat the champion's by the margin "
                f"({DEFAULT_MARGIN}, the default: a retrain may set another, and the version's own reason "
                "says which it met)."
            ),
        },
    }


def _duration_words(seconds: float | None) -> str:
    """``42 s``, ``7 min 32 s``, ``1 h 5 min``."""
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class ScoringModelCompareView(PermissionRequiredMixin, TemplateView):
    """A version beside the champion of its kind (``?against=`` another version of the same kind): both
    reports' figures, the differences, and the promote decision, with the button for those allowed."""

    permission_required = "scoring.view_scoringmodel"
    template_name = "scoring/learned/model_compare.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        model = learned.model_get(user=user, pk=self.kwargs["pk"])
        error = ""
        against = self.request.GET.get("against", "").strip()
        base = None
        if against:
            if not against.isdigit():
                error = "“against” must be the number of a version (its id)."
            else:
                base = learned.model_get(user=user, pk=int(against))
                if base.kind != model.kind:
                    error = (f"{ml_jobs.model_words(base.kind, base.version)} and "
                             f"{ml_jobs.model_words(model.kind, model.version)} are different kinds of "
                             "model: they never compete, so there is nothing to compare.")  # fmt: skip
                    base = None
        elif model.status != ScoringModelStatus.CHAMPION:
            base = learned.champion_of_kind(user=user, kind=model.kind)
        else:  # the champion's page: beside its newest challenger
            newest = learned.challenger_newest(model)
            if newest is not None:
                base, model = model, learned.model_get(user=user, pk=newest.pk)
        if base is not None and base.pk == model.pk:
            base = None
        if base is not None and model.status == ScoringModelStatus.CHAMPION != base.status:
            base, model = model, base  # the champion stays on the champion's side
        context.update(
            {
                "model": model,
                "error": error,
                "is_champion": model.status == ScoringModelStatus.CHAMPION,
                "can_promote": user.has_perm("scoring.promote_scoringmodel")
                and model.status != ScoringModelStatus.CHAMPION,
                "reason_form": RegistryReasonForm(),
                "model_name": ml_jobs.model_words(model.kind),
            }
        )
        if not error:
            context.update(versions_compare(base, model))
        return context


class ModelTrainView(PermissionRequiredMixin, View):
    """Retrain now: queue ``model_train_task`` and follow its job."""

    permission_required = "scoring.rescore_accounts"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TrainForm(with_defaults(TrainForm, request.POST))
        if not form.is_valid():
            messages.error(request, f"Nothing was started. {errors_line(form)}")
            return redirect("scoring:model_list")
        data = form.cleaned_data
        job = ml_jobs.model_train_schedule(
            user=request.user,
            horizon_days=data["horizon_days"],
            folds=data["folds"],
            margin=data["margin"],
            reason=data["reason"] or "Started from the models page",
        )
        job_start_say(request, job)
        return redirect("scoring:model_job", pk=job.pk)


class BacktestStartView(PermissionRequiredMixin, View):
    """Run a backtest of the in-market model and its baselines (registers nothing)."""

    permission_required = "scoring.rescore_accounts"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BacktestForm(with_defaults(BacktestForm, request.POST))
        if not form.is_valid():
            messages.error(request, f"Nothing was started. {errors_line(form)}")
            return redirect("scoring:model_list")
        job = ml_jobs.backtest_schedule(
            user=request.user,
            horizon_days=form.cleaned_data["horizon_days"],
            folds=form.cleaned_data["folds"],
        )
        job_start_say(request, job)
        return redirect("scoring:model_job", pk=job.pk)


class ModelColumnDecisionView(PermissionRequiredMixin, View):
    """Confirm a column a leakage warning names as known before the outcome, or exclude it from training:
    for every later training of the version's kind, audited."""

    permission_required = ("scoring.view_scoringmodel", "scoring.promote_scoringmodel")

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        model = learned.model_get(user=request.user, pk=pk)
        form = ColumnDecisionForm(request.POST)
        warnings = [w for w in (model.metrics or {}).get("leakage_warnings") or [] if isinstance(w, dict)]
        named = {w.get("column") or w.get("feature") for w in warnings} - {None}
        if not form.is_valid() or form.cleaned_data["column"] not in named:
            messages.error(
                request, "Pick a column one of this version's leakage warnings names, and a decision."
            )
            return redirect("scoring:model_detail", pk=pk)
        column, decision = form.cleaned_data["column"], form.cleaned_data["decision"]
        try:
            decisions.column_decision_set(
                kind=model.kind,
                column=column,
                decision=decision,
                user=request.user,
                note=form.cleaned_data["note"],
            )
        except decisions.DecisionError as exc:
            messages.error(request, str(exc))
            return redirect("scoring:model_detail", pk=pk)
        retrain = (
            "Retrain (Models → Train) for a version that applies it."
            if model.kind != "lead_conversion"
            else "Run train_leads on the export again for a version that applies it."
        )
        what = (
            "is known before the outcome"
            if decision == ColumnDecisionKind.CONFIRMED
            else "is left out of training"
        )
        messages.success(
            request, f"“{column}” {what} for every {model.get_kind_display().lower()} training. {retrain}"
        )
        return redirect("scoring:model_detail", pk=pk)


class ModelPromoteView(PermissionRequiredMixin, View):
    """Make this version the champion of its kind by hand (audited by the registry)."""

    permission_required = ("scoring.view_scoringmodel", "scoring.promote_scoringmodel")

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from scoring.learned import registry  # scikit-learn and XGBoost: loaded only when needed

        model = learned.model_get(user=request.user, pk=pk, without=("artefact", "metrics"))
        form = RegistryReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(form.errors.get("reason", ["Check the reason."])))
            return redirect("scoring:model_detail", pk=pk)
        if model.status == ScoringModelStatus.CHAMPION:
            messages.info(request, f"v{model.version} is already the champion.")
            return redirect("scoring:model_detail", pk=pk)
        try:
            registry.model_promote(model=model, user=request.user, reason=form.cleaned_data["reason"])
        except registry.RegistryError as exc:
            messages.error(request, str(exc))
            return redirect("scoring:model_detail", pk=pk)
        messages.success(
            request,
            f"v{model.version} is the {model.get_kind_display().lower()} champion now. "
            "Rescore the accounts for the scores to follow.",
        )
        return redirect("scoring:model_detail", pk=pk)


class ModelRollbackView(PermissionRequiredMixin, View):
    """Give the champion's place back to the previous champion of the same kind (audited)."""

    permission_required = ("scoring.view_scoringmodel", "scoring.promote_scoringmodel")

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from scoring.learned import registry  # scikit-learn and XGBoost: loaded only when needed

        model = learned.model_get(user=request.user, pk=pk, without=("artefact", "metrics"))
        form = RegistryReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(form.errors.get("reason", ["Check the reason."])))
            return redirect("scoring:model_detail", pk=pk)
        # The page may be stale: only the current champion can be rolled back.
        if model.status != ScoringModelStatus.CHAMPION:
            messages.error(
                request, f"v{model.version} is not the champion any more: nothing was rolled back."
            )
            return redirect("scoring:model_detail", pk=pk)
        try:
            previous = registry.model_rollback(
                user=request.user, kind=model.kind, reason=form.cleaned_data["reason"]
            )
        except registry.RegistryError as exc:
            messages.error(request, str(exc))
            return redirect("scoring:model_detail", pk=pk)
        messages.success(
            request, f"Rolled back: v{previous.version} is the champion again, v{model.version} a challenger."
        )
        return redirect("scoring:model_detail", pk=previous.pk)


# --- jobs: retrain, backtest, rescore ----------------------------------------------------------------------
class ModelJobMixin(PermissionRequiredMixin):
    permission_required = ("scoring.view_scoringmodel", "revops.view_jobrun")

    def get_job(self, pk: int) -> JobRun:
        return learned.learned_job_get(user=self.request.user, pk=pk)


def _trained_words(result: dict) -> list[dict[str, Any]]:
    """What a retrain registered, in words: each model by name and version, whether it became champion
    and why, its shipped family and its figure — or why it was not trained."""
    order = {kind: n for n, kind in enumerate(ScoringModelKind.values)}
    out = []
    for kind in sorted((k for k in result if isinstance(result[k], dict)), key=lambda k: order.get(k, 99)):
        entry = result[kind]
        if entry.get("skipped"):
            out.append({"kind": kind, "name": ml_jobs.model_words(kind), "skipped": str(entry["skipped"])})
            continue
        if not entry.get("id"):
            continue
        auc = _number(entry.get("roc_auc"))
        measured = (
            "cross-validated"
            if kind in (ScoringModelKind.ACCOUNT_FIT, ScoringModelKind.PERSONA_FIT)
            else "backtest"
        )
        status = entry.get("status") or ""
        out.append(
            {
                "kind": kind,
                "id": entry["id"],
                "name": ml_jobs.model_words(kind, entry.get("version")),
                "status": ScoringModelStatus(status).label if status in ScoringModelStatus.values else status,
                "outcome": {
                    ScoringModelStatus.CHAMPION: "became the champion",
                    ScoringModelStatus.CHALLENGER: "is a challenger: the champion keeps its place",
                }.get(status, ""),
                "challenger": status == ScoringModelStatus.CHALLENGER,
                "reason": entry.get("reason") or "",
                "family": _label(entry["family"]) if entry.get("family") else "",
                "figure": f"{measured} ROC AUC {auc:.3f}" if auc is not None else "",
            }
        )
    return out


def _job_context(job: JobRun) -> dict[str, Any]:
    result = job.result if isinstance(job.result, dict) else {}
    fine = job.kind in (ml_jobs.TRAIN_KIND, ml_jobs.BACKTEST_KIND) and job.total == PROGRESS_STEPS
    estimate = ""
    if fine and job.status == JobStatus.RUNNING and job.started_at and job.total:
        elapsed = (timezone.now() - job.started_at).total_seconds()
        estimate = remaining_words(elapsed=elapsed, fraction=job.progress / job.total)
    message_words = ""
    champion = result.get("champion") if job.kind == ml_jobs.BACKTEST_KIND else None
    if isinstance(champion, dict) and champion.get("family") and job.status == JobStatus.SUCCEEDED:
        auc = _number(champion.get("roc_auc"))
        message_words = f"the best family is {_label(champion['family'])}" + (
            f", pooled ROC AUC {auc:.3f}" if auc is not None else ""
        )
    took = ""
    if job.finished_at and job.started_at:
        took = _duration_words((job.finished_at - job.started_at).total_seconds())
    return {
        "job": job,
        "job_title": {
            ml_jobs.TRAIN_KIND: "Retraining the models",
            ml_jobs.BACKTEST_KIND: "Backtest of the in-market model",
            RESCORE_KIND: "Rescoring every contact and account",
        }.get(job.kind, job.kind),
        "fine_progress": fine,
        "message_words": message_words,  # the backtest's finish message names the family by its key
        "estimate": estimate,
        "took": took,
        "trained": _trained_words(result) if job.kind == ml_jobs.TRAIN_KIND else [],
        # A scheduled retrain that found one running says so instead of a result.
        "job_skipped": result.get("skipped") if isinstance(result.get("skipped"), str) else "",
    }


class ModelJobView(ModelJobMixin, View):
    """A retrain, backtest or rescore job: progress refreshed by htmx; then its outcome (a backtest's
    report as charts, the versions a retrain registered)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job(pk)
        context = _job_context(job)
        if job.kind == ml_jobs.BACKTEST_KIND and job.status == JobStatus.SUCCEEDED:
            context.update(report_context(job.result))
        return render(request, "scoring/learned/job.html", context)


class ModelJobStatusView(ModelJobMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job(pk)
        response = render(request, "scoring/learned/includes/job_progress.html", _job_context(job))
        # The fragment has no trigger once the job is finished; the page reloads to show the outcome.
        if job.finished_at is not None and _is_htmx(request):
            response["HX-Refresh"] = "true"
        return response


# --- in-market accounts -----------------------------------------------------------------------------------
class InMarketListView(ObjectListView):
    """Accounts by their learned scores: in market first, with stage counts over the same filters.

    Net-new accounts (no open deal, not a customer) by default: sales works those; a tab shows the
    accounts with an open deal or customers instead (``deal=open&deal=customer``), another every
    account (``deal=any``), each with its count under the other filters."""

    model = AccountModelScore
    template_name = "scoring/learned/inmarket_list.html"
    columns = [
        Column("account", "Account", ("account__name",)),
        Column("in_market", "In market", ("in_market",), numeric=True),
        Column("fit", "Profile fit", ("profile_fit",), numeric=True),
        Column("qualified", "Qualified"),
        Column("stage", "Buying stage"),
        Column("reason", "Top reason"),
    ]
    default_sort = "-in_market"
    primary_filters = ["q", "stage", "qualified", "fit_band", "in_market_band", "owner", "segment"]
    filter_labels = {
        "q": "Account name or domain",
        "deal": "Open deal or customer",
        "owner": "Owner",
        "employees_min": "Employees at least",
        "employees_max": "Employees at most",
        "stage": "Buying stage",
        "fit_band": "Fit band",
        "in_market_band": "In-market band",
        "in_market_min": "In market at least (0 to 1)",
        "profile_fit_min": "Profile fit at least (0 to 100)",
        "model": "In-market model",
        "policy": "Policy version",
        "account": "Account id",
    }
    filter_choices = {"model": "model_choices", "policy": "policy_choices", "owner": "user_choices"}

    # The apps above add their filters (scores, stage, segment …): revops.filtersets.
    filterset_class = WidenedFilterSet("scoring.accountmodelscore", AccountModelScoreFilterSet)

    DEAL_TABS = [
        ("net_new", "Net-new", [DealStatus.NEITHER]),
        ("open_or_customer", "Open deal / customer", [DealStatus.OPEN, DealStatus.CUSTOMER]),
        ("any", "All", []),
    ]

    def filter_data(self):
        """``deal`` defaults to net-new (no open deal, not a customer); ``deal=any`` is every account."""
        data = self.request.GET.copy()
        deal = data.getlist("deal")
        if not deal:
            data.setlist("deal", [DealStatus.NEITHER])
        elif "any" in deal:
            data.pop("deal")
        return data

    counts_as_of = None  # when the tabs' and stages' counts were counted (kept a few minutes)

    def deal_tabs(self) -> list[dict[str, Any]]:
        """The tabs over the deal filter, each with its count under every other filter (one query)."""
        data = self.filter_data()
        chosen = sorted(data.getlist("deal"))
        others = data.copy()
        others.pop("deal", None)
        filterset = self.filterset_class(others, queryset=self.get_queryset(), request=self.request)
        counts: dict[str, int] = {}
        if filterset.is_valid():
            # Counted over every scored account: kept a few minutes per filter and after each full rescore.
            counts, self.counts_as_of = metrics.figure_kept(
                f"inmarket_deal_tabs:{others.urlencode()}",
                lambda: filterset.qs.order_by().aggregate(
                    **{
                        key: Count(
                            "pk", filter=deal_condition(statuses, account="account_id", correlated=False)
                        )
                        if statuses
                        else Count("pk")
                        for key, _, statuses in self.DEAL_TABS
                    }
                ),
                user=self.request.user,
            )
        tabs = []
        for key, label, statuses in self.DEAL_TABS:
            query = self.request.GET.copy()
            query.pop("page", None)
            query.setlist("deal", [str(s) for s in statuses] or ["any"])
            active = chosen == sorted(str(s) for s in statuses)
            href = f"?{query.urlencode()}"
            tabs.append(
                {"key": key, "label": label, "count": counts.get(key, 0), "href": href, "active": active}
            )
        return tabs

    def model_choices(self) -> list[tuple[int, str]]:
        return [
            (m.pk, f"v{m.version} ({m.get_status_display().lower()})") for m in learned.in_market_versions()
        ]

    def policy_choices(self) -> list[tuple[int, str]]:
        return [
            (p.pk, f"v{p.number} {p.name} ({p.get_status_display().lower()})")
            for p in learned.policy_versions()
        ]

    def get_permission_required(self) -> tuple[str, ...]:
        return ("scoring.view_accountmodelscore", "accounts.view_account")

    def get_queryset(self) -> QuerySet:
        return learned.account_model_scores(user=self.request.user)

    def customize_filter_form(self, form) -> None:
        super().customize_filter_form(form)
        if "in_market_min" in form.fields:
            form.fields["in_market_min"].widget.attrs.update({"step": "0.01", "placeholder": "e.g. 0.3"})
        if "q" in form.fields:
            form.fields["q"].widget.attrs.setdefault("placeholder", "Search")

    def decorate_rows(self, rows: list[AccountModelScore]) -> None:
        for score in rows:
            _decorate(score)
            # Why it is in market: the largest contribution that raised the probability.
            raised = [item for item in account_explanation(score) if item["contribution"] > 0]
            score.top_reason = raised[0] if raised else None

    def stage_counts(self) -> dict[str, Any]:
        """Accounts per buying stage under every filter but the stage itself (one grouped query)."""
        data = self.filter_data().copy()
        data.pop("stage", None)
        filterset = self.filterset_class(data, queryset=self.get_queryset(), request=self.request)
        counts: dict[str, int] = {}
        if filterset.is_valid():
            counts, _as_of = metrics.figure_kept(
                f"inmarket_stage_counts:{data.urlencode()}",
                lambda: dict(
                    filterset.qs.order_by()
                    .values_list("stage")
                    .annotate(n=Count("pk"))
                    .values_list("stage", "n")
                ),
                user=self.request.user,
            )
        total = sum(counts.values())
        chosen = set(self.request.GET.getlist("stage"))
        stages = [
            {
                "value": value,
                "label": label,
                "count": counts.get(value, 0),
                "percent": round(100 * counts.get(value, 0) / total, 1) if total else 0,
                "colour": STAGE_COLOURS.get(value, "secondary"),
                "active": value in chosen,
            }
            for value, label in BuyingStage.choices
        ]
        return {"stages": stages, "total": total}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            {
                **self.stage_counts(),
                "deal_tabs": self.deal_tabs(),
                "can_rescore": self.request.user.has_perm("scoring.rescore_accounts"),
            }
        )
        return context


def _qualified_note(score: AccountModelScore) -> str:
    """Why an account is or is not qualified, under the policy version that scored it."""
    rank, policy = BAND_RANK, score.policy
    if score.qualified:
        return "fits and is in market"
    fits = rank.get(score.fit_band, 0) >= rank.get(policy.qualified_fit_band, 0)
    in_market = rank.get(score.in_market_band, 0) >= rank.get(policy.qualified_in_market_band, 0)
    needs = [f"{policy.get_qualified_fit_band_display().lower()} fit"] if not fits else []
    needs += [f"{policy.get_qualified_in_market_band_display().lower()} in market"] if not in_market else []
    return f"needs {' and '.join(needs)}" if needs else "not under this policy version"


def _decorate(score: AccountModelScore) -> AccountModelScore:
    score.in_market_percent = round(100 * (score.in_market or 0), 1)
    score.stage_colour = STAGE_COLOURS.get(score.stage, "secondary")
    score.fit_colour = BAND_COLOURS.get(score.fit_band, "secondary")
    score.in_market_colour = BAND_COLOURS.get(score.in_market_band, "secondary")
    return score


class AccountsRescoreView(PermissionRequiredMixin, View):
    """Rescore every account (rules, then learned scores) over the workers, and follow the job."""

    permission_required = "scoring.rescore_accounts"

    def post(self, request: HttpRequest) -> HttpResponse:

        reason = (request.POST.get("reason") or "").strip()[:500]
        job = pipeline.full_rescore_schedule(
            user=request.user, reason=reason or "Started from the in-market page"
        )
        return redirect("scoring:model_job", pk=job.pk)


# --- an account's learned scores (a section of the account page) ------------------------------------------
class AccountScoresView(PermissionRequiredMixin, View):
    """The account page's "Scores" section: fit, in market, qualified, stage, versions, the explanation in
    words, the history chart and the stage transitions. htmx loads it into the account page; opened
    directly, it is a page of its own."""

    permission_required = ("accounts.view_account", "scoring.view_accountmodelscore")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = request.user
        account = learned.account_get(user=user, pk=pk)
        score = learned.account_score(account.pk)
        context: dict[str, Any] = {
            "account": account,
            "score": score,
            "history_chart": None,
            "transitions": None,
        }
        if score is not None:
            _decorate(score)
            score.qualified_note = _qualified_note(score)
            context["explanation"] = [
                {**item, "positive": item["contribution"] > 0} for item in account_explanation(score)
            ]
        if user.has_perm("scoring.view_accountmodelscorehistory"):
            context["history_chart"] = _history_chart(account.pk)
        if user.has_perm("scoring.view_buyingstagetransition"):
            transitions = learned.account_transitions(account.pk, limit=MAX_TRANSITIONS)
            for transition in transitions:
                transition.to_colour = STAGE_COLOURS.get(transition.to_stage, "secondary")
                transition.in_market_percent = round(100 * transition.in_market, 1)
            context["transitions"] = transitions
        context["stage_colours"] = STAGE_COLOURS
        template = (
            "scoring/learned/includes/account_scores.html"
            if _is_htmx(request)
            else "scoring/learned/account_scores.html"
        )
        return render(request, template, context)


def _history_chart(account_id: int) -> dict | None:
    """In-market probability and profile fit over time (the newest points, oldest first)."""
    rows = learned.account_score_history(account_id, limit=MAX_HISTORY_POINTS)
    if not rows:
        return None
    local = timezone.get_current_timezone()
    return {
        "kind": "line",
        "labels": [at.astimezone(local).strftime("%-d %b %Y") for at, _, _ in rows],
        "y_title": "In market",
        "y2_title": "Profile fit (0–100)",
        "percent": True,
        "series": [
            {"label": "In market", "values": [round(p, 4) for _, p, _ in rows], "colour": 0},
            {"label": "Profile fit", "values": [round(f, 1) for _, _, f in rows], "colour": 2, "axis": "y2"},
        ],
        "points": len(rows),
    }
