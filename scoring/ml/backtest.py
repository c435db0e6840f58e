"""Time-based backtest of the in-market model against its baselines, on the same rolling-origin split.

Snapshots are taken at the end of each month (the day before the demo ground truth's dates, so that
both predict the same window). Fold ``f`` tests on one snapshot date ``T`` and trains on the snapshots
whose label window had closed by then (``as_of + horizon <= T``): nothing the test period knows leaks
into training. The last training date is the validation slice for early stopping.

Models compared:
* ``xgboost`` — gradient-boosted trees on every feature (the in-market model);
* ``logistic_regression`` — scikit-learn, on signed-log, standardised features;
* ``naive_bayes`` — BernoulliNB on binarised features (counts > 0, continuous attributes above their
  training median), the kind of model open CRMs ship;
* ``rules`` — the published rules score as of each test date (account fit + engagement);
* ``ground_truth`` — the demo generator's true propensity (only on demo data): the ceiling.
"""

import datetime
import os
import time

import numpy as np
import pandas as pd
from django.db.models import Max
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve
from sklearn.naive_bayes import BernoulliNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from accounts.models import AccountActivityDaily, Opportunity

from . import features as F

MODELS = ("xgboost", "logistic_regression", "naive_bayes", "rules", "ground_truth")
# Shallow trees, few of them: every tree costs training time on every snapshot row and SHAP time on every
# scored account. On the demo backtest, learning rate 0.1 with at most 300 trees (early stopping usually
# ends sooner) scores within run-to-run noise (ROC AUC 0.817 vs 0.819) of 0.03 with 800 — which never
# stopped early — and trains about 6 times faster.
XGB_PARAMS = {
    "n_estimators": 300,
    "max_depth": 3,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.5,
    "min_child_weight": 10,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "n_jobs": 2,
    "eval_metric": "logloss",
    # Zero is "none" for most features (counts, flags, one-hots: ~70 % of a snapshot matrix), so it is
    # XGBoost's missing value: its sparsity-aware split finding visits only the non-zero entries and learns
    # at each split which side "none" goes to. Training on the sparse matrix takes about half the time,
    # at the same AUC. Every matrix a model is scored on says so too (``dmatrix``).
    "missing": 0.0,
}
EARLY_STOPPING_ROUNDS = 30
LEAKY_AUC = 0.95
ROC_POINTS = 100  # the ROC curve kept in a report, at most
HISTOGRAM_BINS = 20
META = ("as_of", "account_id", "label")


# --- dates ---------------------------------------------------------------------------------------------
def data_end() -> datetime.date:
    """The last day the data knows about (the newest rollup day or opportunity)."""
    days = [
        AccountActivityDaily.objects.aggregate(d=Max("day"))["d"],
        Opportunity.objects.aggregate(d=Max("created_date"))["d"],
    ]
    days = [d for d in days if d is not None]
    return min(max(days), datetime.date.today()) if days else datetime.date.today()


def data_start() -> datetime.date | None:
    from django.db.models import Min

    return AccountActivityDaily.objects.aggregate(d=Min("day"))["d"]


def month_ends(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """Last days of months within ``[start, end]``."""
    out, year, month = [], start.year, start.month
    while True:
        first_next = datetime.date(year + month // 12, month % 12 + 1, 1)
        last = first_next - datetime.timedelta(days=1)
        if last > end:
            return out
        if last >= start:
            out.append(last)
        year, month = first_next.year, first_next.month


def labelled_dates(*, as_of: datetime.date, horizon_days: int, warm_up_days: int = 60) -> list[datetime.date]:
    """Snapshot dates whose label window has closed by ``as_of``, with enough history before them."""
    start = data_start()
    if start is None:
        return []
    return month_ends(
        start + datetime.timedelta(days=warm_up_days), as_of - datetime.timedelta(days=horizon_days)
    )


def splits(dates: list[datetime.date], *, folds: int, horizon_days: int) -> list[dict]:
    """Rolling origin: each of the last ``folds`` dates is a test date; train on dates whose window closed
    before it; validate (early stopping) on the newest training date."""
    out = []
    for test in sorted(dates)[-folds:]:
        train = [d for d in dates if d + datetime.timedelta(days=horizon_days) <= test]
        if len(train) < 2:
            continue
        out.append({"train": train[:-1], "validation": [train[-1]], "test": [test]})
    return out


# --- models --------------------------------------------------------------------------------------------
def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in META]


def columns_usable(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[dict]]:
    """The columns a model can learn from, and a note for each one left out: missing on every row (no
    account has a founded year, say) or the same value on every row. Neither can rank anything, and
    some estimators refuse them. Partly missing columns stay: every model here takes missing values."""
    if not len(frame):
        return list(columns), []
    kept, dropped = [], []
    for column in columns:
        x = frame[column].to_numpy(dtype=np.float64)
        present = x[~np.isnan(x)]
        if not len(present):
            dropped.append({"feature": column, "reason": "missing on every row"})
        elif present.min() == present.max() and len(present) == len(x):
            dropped.append({"feature": column, "reason": f"the same value ({present[0]:g}) on every row"})
        else:
            kept.append(column)
    return kept, dropped


def _signed_log(x):
    """sign(x) · log(1 + |x|), into one new array (no temporaries the size of a million-row matrix).
    Unknown (NaN: an account without revenue, say) is 0, as XGBoost and naive Bayes read it."""
    out = np.abs(x, dtype=np.float64)
    np.log1p(out, out=out)
    np.copysign(out, x, out=out)
    return np.nan_to_num(out, copy=False, nan=0.0)


def sparse_input(frame: pd.DataFrame, columns: list[str]):
    """``frame[columns]`` as a float32 CSR matrix without its zeros and NaN (both are missing)."""
    from scipy import sparse

    x = frame[columns].to_numpy(dtype=np.float32, copy=True)  # ours: NaN becomes zero in place
    return sparse.csr_matrix(np.nan_to_num(x, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf))


# Threads a stored booster predicts with (None: XGBoost's default, every core). A process of a pool sets
# its share: the command's (``rescore._share_cores``) here, a Celery worker's in ``REVOPS_XGB_THREADS``.
XGB_THREADS: int | None = None


def loaded(booster):
    """A booster loaded to score with, on this process's share of the cores."""
    threads = XGB_THREADS or int(os.environ.get("REVOPS_XGB_THREADS") or 0)
    if threads:
        booster.set_param({"nthread": threads})
    return booster


_BOOSTERS: dict[tuple[int, str], object] = {}


def booster_of(model):
    """A stored model's booster (``ScoringModel``), loaded once per version and checksum in this process."""
    key = (model.pk, model.artefact_sha256)
    booster = _BOOSTERS.get(key)
    if booster is None:
        if len(_BOOSTERS) > 16:
            _BOOSTERS.clear()
        booster = _BOOSTERS[key] = loaded(model.artefact_load())
    return booster


def dmatrix(x, *, params: dict | None, feature_names: list[str]):
    """A dense matrix to score with a stored model: missing values as the model was trained with them
    (``params["missing"]``; models trained before it have none: NaN)."""
    from xgboost import DMatrix

    missing = (params or {}).get("missing")
    return DMatrix(x, feature_names=feature_names, missing=np.nan if missing is None else float(missing))


# scikit-learn's names of XGB_PARAMS (kept in every registered model's parameters) → XGBoost's own.
_NATIVE = {"learning_rate": "eta", "reg_lambda": "lambda", "reg_alpha": "alpha", "n_jobs": "nthread"}
_NOT_BOOSTER = {"n_estimators", "missing", "random_state", "early_stopping_rounds"}


def _booster_params(params: dict) -> dict:
    out = {_NATIVE.get(k, k): v for k, v in params.items() if k not in _NOT_BOOSTER}
    return {"objective": "binary:logistic", "seed": params.get("random_state", 0), **out}


class Boosted:
    """A model ``fit_xgboost`` trained: the booster (feature names kept: stored models are scored by
    name), its number of trees and ``predict_proba`` as in scikit-learn, for a frame with the training
    columns or a matrix in their order. Missing values as in training (``dmatrix``)."""

    def __init__(self, booster, *, columns: list[str], params: dict):
        booster.feature_names = list(columns)
        self.booster, self.columns, self.params = booster, list(columns), params
        self.n_estimators = int(booster.num_boosted_rounds())

    def get_booster(self):
        return self.booster

    def predict_proba(self, x) -> np.ndarray:
        if isinstance(x, pd.DataFrame):
            x = x[self.columns].to_numpy(dtype=np.float32)
        elif not hasattr(x, "tocsr"):  # a dense matrix (a sparse one is already the training's kind)
            x = np.asarray(x, dtype=np.float32)
        p = self.booster.predict(dmatrix(x, params=self.params, feature_names=self.columns))
        return np.column_stack([1.0 - p, p])


def _boost(x, y: np.ndarray, params: dict, validation: tuple | None = None):
    """``xgboost.train`` on the sparse matrix ``x`` (``sparse_input``; the histogram index built once,
    ``QuantileDMatrix``); with ``validation`` (its matrix and labels), early stopping on its log loss.
    XGBoost's own API: its scikit-learn wrapper scores the validation rows through the histogram index
    each round, several times slower."""
    import xgboost

    missing = params.get("missing", np.nan)
    data = xgboost.QuantileDMatrix(x, y, missing=missing)
    extra = {}
    if validation is not None:
        check = xgboost.DMatrix(validation[0], validation[1], missing=missing)
        extra = {"evals": [(check, "validation")], "early_stopping_rounds": EARLY_STOPPING_ROUNDS}
    return xgboost.train(
        _booster_params(params),
        data,
        num_boost_round=int(params["n_estimators"]),
        verbose_eval=False,
        **extra,
    )


def _stopped_at(booster) -> int:
    return int(booster.best_iteration) + 1


def early_stopping_trees(
    train: pd.DataFrame, validation: pd.DataFrame, columns: list[str], params=None
) -> int:
    """How many trees (at most ``n_estimators``) to boost: trained on ``train``, stopped when the log loss
    on ``validation`` has not improved for ``EARLY_STOPPING_ROUNDS`` rounds."""
    params = {**XGB_PARAMS, **(params or {})}
    check = (sparse_input(validation, columns), validation["label"].to_numpy())
    return _stopped_at(_boost(sparse_input(train, columns), train["label"].to_numpy(), params, check))


def fit_xgboost(train: pd.DataFrame, validation: pd.DataFrame | None, columns: list[str], params=None):
    """XGBoost on ``train``; with a ``validation`` set of both classes, the number of trees is chosen by
    early stopping on it, then the model is refit on both with that many trees. Each part becomes a
    sparse matrix once; the refit stacks them (no concatenated copy of the frames)."""
    from scipy import sparse

    params = {**XGB_PARAMS, **(params or {})}
    x, y = sparse_input(train, columns), train["label"].to_numpy()
    if validation is not None and len(validation) and validation["label"].nunique() == 2:
        x_check, y_check = sparse_input(validation, columns), validation["label"].to_numpy()
        params["n_estimators"] = _stopped_at(_boost(x, y, params, (x_check, y_check)))
        x, y = sparse.vstack([x, x_check], format="csr"), np.concatenate([y, y_check])
        del x_check
    return Boosted(_boost(x, y, params), columns=columns, params=params)


def fit_logistic(x: np.ndarray, y: np.ndarray):
    """The logistic-regression baseline: signed log, standardised, L2 (C = 0.5)."""
    model = make_pipeline(
        # The scaler works in place on the transformer's new array, never on the caller's.
        FunctionTransformer(_signed_log),
        StandardScaler(copy=False),
        LogisticRegression(max_iter=2000, C=0.5),
    )
    return model.fit(x, y)


class BinarisedNB:
    """BernoulliNB on features binarised at a threshold learnt on training data."""

    def fit(self, x: np.ndarray, y: np.ndarray):
        binary = np.all(np.isin(x, (0.0, 1.0)), axis=0)
        counts = np.all(x >= 0, axis=0)
        median = np.nanmedian(x, axis=0)
        # 0/1 features stay; non-negative counts: "any"; others: above the training median.
        self.threshold = np.where(binary | counts, 0.0, median)
        self.threshold = np.where(counts & ~binary & (median > 0), median, self.threshold)
        self.model = BernoulliNB(alpha=1.0).fit(self._binarise(x), y)
        return self

    def _binarise(self, x: np.ndarray) -> np.ndarray:
        return (np.nan_to_num(x, nan=0.0) > self.threshold).astype(np.float64)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self._binarise(x))


def rules_scores(as_of: datetime.date, account_ids) -> pd.Series:
    """Account fit + engagement under the ruleset that was published at ``as_of`` (else the current one)."""
    from scoring.engine.rules import evaluate_accounts, evaluate_contacts
    from scoring.models import Ruleset, RulesetStatus
    from scoring.population import account_population, contacts_by_range, spec_for

    moment = datetime.datetime.combine(as_of, datetime.time.max, tzinfo=datetime.UTC)
    ruleset = (
        Ruleset.objects.filter(published_at__lte=moment)
        .exclude(status=RulesetStatus.DRAFT)
        .order_by("-published_at")
        .first()
        or Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()
    )
    ids = pd.Index(sorted({int(i) for i in account_ids}))
    if ruleset is None:
        return pd.Series(0.0, index=ids)
    spec = spec_for(ruleset)
    population = contacts_by_range(spec, as_of, 0, 2**62)
    contacts = evaluate_contacts(spec, population, as_of=as_of)
    scores = contacts[["contact_id", "account_id", "fit", "engagement", "excluded"]]
    accounts, scores = account_population(spec, as_of, ids=ids.tolist(), scores=scores)
    result = evaluate_accounts(spec, accounts, scores, as_of=as_of)
    total = result.set_index("account_id")["fit"] + result.set_index("account_id")["engagement"]
    return total.reindex(ids).fillna(0.0)


def ground_truth(as_of: datetime.date, horizon_days: int) -> pd.Series | None:
    """The demo generator's propensity for the window after ``as_of`` (stored the day after)."""
    from scoring.models import DemoGroundTruth

    rows = DemoGroundTruth.objects.filter(
        as_of=as_of + datetime.timedelta(days=1), horizon_days=horizon_days
    ).values_list("account_id", "propensity")
    if not rows:
        return None
    frame = pd.DataFrame.from_records(list(rows), columns=["account_id", "propensity"])
    return frame.set_index("account_id")["propensity"]


# --- metrics -------------------------------------------------------------------------------------------
def _roc_points(y: np.ndarray, score: np.ndarray) -> dict:
    """``{fpr, tpr}``, at most ``ROC_POINTS`` points spread evenly along the curve (both ends kept)."""
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=True)
    if len(fpr) > ROC_POINTS:
        along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))])
        keep = np.searchsorted(along, np.linspace(0.0, along[-1], ROC_POINTS))
        keep = np.unique(np.concatenate([[0], keep.clip(0, len(fpr) - 1), [len(fpr) - 1]]))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": fpr.round(4).tolist(), "tpr": tpr.round(4).tolist()}


def _deciles(y: np.ndarray, order: np.ndarray, base: float, positives: int) -> dict:
    """Per tenth of the rows ranked by score (top first): its lift over the base rate, and the share of
    all positives in it and above (the gains curve). The first tenth is the top decile of ``metrics``."""
    n = len(y)
    bounds = [int(np.ceil(n * k / 10)) for k in range(11)]
    ranked = y[order]
    lift, capture = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        lift.append(round(float(ranked[lo:hi].mean() / base), 4) if hi > lo and base else None)
        capture.append(round(float(ranked[:hi].sum() / positives), 4) if positives else None)
    return {"lift": lift, "cumulative_capture": capture}


def _score_histogram(y: np.ndarray, score: np.ndarray, *, probability: bool) -> dict:
    """Counts of positives and negatives in ``HISTOGRAM_BINS`` equal bins: over 0..1 for a probability,
    over the scores' own range otherwise (a points total)."""
    if probability:
        low, high = 0.0, 1.0
        score = np.clip(score, 0.0, 1.0)
    else:
        low, high = float(np.min(score)), float(np.max(score))
        if high <= low:
            low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    positives, _ = np.histogram(score[y == 1], bins=edges)
    negatives, _ = np.histogram(score[y == 0], bins=edges)
    return {
        "edges": [float(f"{e:.6g}") for e in edges],
        "positives": positives.astype(int).tolist(),
        "negatives": negatives.astype(int).tolist(),
    }


def metrics(y: np.ndarray, score: np.ndarray, *, probability: bool = True, curves: bool = True) -> dict:
    """Ranking and calibration figures of ``score`` against the outcome ``y``; with ``curves`` also the
    chart data the model page draws: ``roc_curve`` (``{fpr, tpr}``, downsampled), ``deciles`` (``{lift,
    cumulative_capture}``, ten values, top decile first) and ``score_histogram`` (``{edges, positives,
    negatives}``, counts)."""
    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    n, positives = len(y), int(y.sum())
    base = positives / n if n else 0.0
    order = np.argsort(-score, kind="stable")
    top = order[: max(1, int(np.ceil(n * 0.10)))]
    out = {
        "rows": n,
        "positives": positives,
        "base_rate": base,
        "roc_auc": float(roc_auc_score(y, score)) if 0 < positives < n else None,
        "pr_auc": float(average_precision_score(y, score)) if positives else None,
        "top_decile_lift": float(y[top].mean() / base) if base else None,
        "top_decile_capture": float(y[top].sum() / positives) if positives else None,
        "precision_at_100": float(y[order[:100]].mean()) if n else None,
        "precision_at_5pct": float(y[order[: max(1, int(np.ceil(n * 0.05)))]].mean()) if n else None,
        "brier": None,
        "calibration": None,
    }
    if probability and n:
        p = np.clip(score, 0.0, 1.0)
        out["brier"] = float(brier_score_loss(y, p))
        if 0 < positives < n:
            true, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
            out["calibration"] = {
                "predicted": predicted.round(4).tolist(),
                "observed": true.round(4).tolist(),
            }
    if curves:
        out["roc_curve"] = _roc_points(y, score) if 0 < positives < n else None
        out["deciles"] = _deciles(y, order, base, positives) if n else None
        out["score_histogram"] = _score_histogram(y, score, probability=probability) if n else None
    return out


def leakage_warnings(frame: pd.DataFrame, columns: list[str], *, threshold: float = LEAKY_AUC) -> list[dict]:
    """Features that alone rank the label too well: probably known only after the outcome."""
    y = frame["label"].to_numpy()
    if y.min() == y.max():
        return []
    warnings = []
    for column in columns:
        x = frame[column].to_numpy(dtype=np.float64)
        present = x[np.isfinite(x)]
        if not len(present) or present.min() == present.max():
            continue
        # Missing values rank below every known one (either way round: the AUC is folded below).
        auc = roc_auc_score(y, np.where(np.isfinite(x), x, present.min() - 1.0))
        auc = max(auc, 1.0 - auc)
        if auc > threshold:
            warnings.append(
                {"feature": column, "auc": round(float(auc), 4), "warning": "predicts the label on its own"}
            )
    return warnings


# --- the backtest --------------------------------------------------------------------------------------
def run(
    *,
    as_of: datetime.date | None = None,
    horizon_days: int = 90,
    folds: int = 3,
    frame: pd.DataFrame | None = None,
    params: dict | None = None,
    progress=None,
) -> dict:
    """The whole report: per model, metrics pooled over the test folds (with the chart curves) and per fold
    (figures only, to keep the report small); the split; warnings."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    as_of = as_of or data_end()
    dates = labelled_dates(as_of=as_of, horizon_days=horizon_days)
    if frame is None:
        say(f"features for {len(dates)} snapshots …")
        frame = F.snapshots(dates=dates, horizon_days=horizon_days)
    else:
        dates = sorted(set(frame["as_of"]))
    feature_time = time.monotonic() - started
    columns, dropped = columns_usable(frame, feature_columns(frame))
    folds_out, pooled = [], {m: [] for m in MODELS}
    pooled_y = []
    warnings: list[dict] | None = None
    for k, split in enumerate(splits(dates, folds=folds, horizon_days=horizon_days)):
        say(f"fold {k + 1}: train {split['train'][0]}…{split['validation'][0]}, test {split['test'][0]}")
        train = frame[frame["as_of"].isin(split["train"])]
        validation = frame[frame["as_of"].isin(split["validation"])]
        test = frame[frame["as_of"].isin(split["test"])]
        if train["label"].nunique() < 2 or test.empty:
            continue
        # The baselines learn from the training and validation rows together (XGBoost stops early on
        # the latter): one matrix of both for the two of them, once XGBoost no longer needs the frames
        # (at a million rows each copy is about 2 GB).
        xgb = fit_xgboost(train, validation, columns, params)
        both = pd.concat([train, validation], ignore_index=True)
        del train, validation
        if warnings is None:
            warnings = leakage_warnings(both, columns)
        x_both, y_both = both[columns].to_numpy(), both["label"].to_numpy()
        del both
        x_test = test[columns].to_numpy()
        y = test["label"].to_numpy()
        scores = {
            "xgboost": xgb.predict_proba(test[columns])[:, 1],
            "logistic_regression": fit_logistic(x_both, y_both).predict_proba(x_test)[:, 1],
            "naive_bayes": BinarisedNB().fit(x_both, y_both).predict_proba(x_test)[:, 1],
            "rules": rules_scores(split["test"][0], test["account_id"])
            .reindex(test["account_id"].to_numpy())
            .fillna(0.0)
            .to_numpy(),
        }
        truth = ground_truth(split["test"][0], horizon_days)
        if truth is not None:
            scores["ground_truth"] = truth.reindex(test["account_id"].to_numpy()).fillna(0.0).to_numpy()
        fold = {
            "train_dates": [d.isoformat() for d in split["train"]],
            "validation_dates": [d.isoformat() for d in split["validation"]],
            "test_dates": [d.isoformat() for d in split["test"]],
            "train_rows": len(y_both),
            "xgboost_trees": int(xgb.n_estimators),
            "models": {m: metrics(y, s, probability=m != "rules", curves=False) for m, s in scores.items()},
        }
        folds_out.append(fold)
        pooled_y.append(y)
        for m, s in scores.items():
            pooled[m].append(s)
    y_all = np.concatenate(pooled_y) if pooled_y else np.zeros(0)
    report_models = {}
    for m in MODELS:
        if pooled[m] and len(pooled[m]) == len(pooled_y):
            report_models[m] = metrics(y_all, np.concatenate(pooled[m]), probability=m != "rules")
    return {
        "kind": "in_market",
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "snapshot_dates": [d.isoformat() for d in dates],
        "features": columns,
        "dropped_features": dropped,
        "top_keys": frame.attrs.get("top_keys", []),
        "folds": folds_out,
        "models": report_models,
        "leakage_warnings": warnings or [],
        # The final model's tree count: what early stopping chose in the folds (their median).
        "xgboost_trees": int(np.median([f["xgboost_trees"] for f in folds_out])) if folds_out else None,
        "notes": {
            "naive_bayes": "BernoulliNB on binarised features (counts > 0, others above the training median)",
            "rules": "fit + engagement of the published ruleset as of each test date; not a probability",
            "ground_truth": "the demo generator's true propensity for the same window (demo data only)",
            "curves": "ROC, lift and capture by decile and score histograms are pooled over the test folds",
        },
        "seconds": {"features": round(feature_time, 2), "total": round(time.monotonic() - started, 2)},
    }
