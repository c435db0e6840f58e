"""Time-based backtest of the in-market model: every candidate family against honest baselines and two
oracles, on the same rolling-origin split; the champion family is the one that ranks best.

Snapshots are taken at the end of each month (the day before the demo ground truth's dates, so that
both predict the same window). Fold ``f`` tests on one snapshot date ``T`` and trains on the snapshots
whose label window had closed by then (``as_of + horizon <= T``): nothing the test period knows leaks
into training. The last training date is the validation slice for XGBoost's early stopping.

Rows of the report (``MODELS``):
* candidates (``families.CANDIDATES``), one of which is shipped: ``xgboost``, ``logistic_regression``
  and their ``blend``, each on every feature;
* baselines: ``plain_xgboost`` (XGBoost's defaults on per-window counts and firmographics: what a
  customer's analyst would build instead), ``naive_bayes`` (categorical, binned by deciles or
  present/absent, whichever ranks the validation date better),
  ``rules`` (the published rules score as of each test date: account fit + engagement);
* oracles, on demo data only: ``observable_ceiling`` (a regressor trained on the generator's true
  propensities from the same features: about the best any model of these features can do) and
  ``ground_truth`` (the true propensity itself, which also knows state no data shows).

``champion`` names the candidate with the best pooled ROC AUC, and for every other row the difference
with a 95 % interval from a paired bootstrap that resamples accounts (an account is in several test
folds; its rows move together). ``feature_groups`` refits the champion on the last fold without each
group of features in turn: what each group earns.
"""

import datetime
import logging
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Max, Min
from django.utils.formats import date_format
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from accounts.models import Account, AccountActivityDaily, Opportunity
from revops.chunks import Forked, can_fork, error_words
from scoring.choices import RulesetStatus
from scoring.engine.rules import evaluate_accounts, evaluate_contacts
from scoring.learned import families
from scoring.learned import features as F
from scoring.learned.progress import FOLD_STEPS, as_progress
from scoring.models import DemoGroundTruth, Ruleset
from scoring.population import account_population, contacts_by_range, spec_for

logger = logging.getLogger(__name__)

BASELINES = ("plain_xgboost", "naive_bayes", "rules")
ORACLES = ("observable_ceiling", "ground_truth")
MODELS = (*families.CANDIDATES, *BASELINES, *ORACLES)
LEAKY_AUC = 0.95
ROC_POINTS = 100  # the ROC curve kept in a report, at most
HISTOGRAM_BINS = 20
BOOTSTRAP_REPLICATES = 500
BOOTSTRAP_THREADS = 2  # the training's share of the cores, as XGBoost's n_jobs (families.XGB_PARAMS)
BOOTSTRAP_BATCH = 50  # replicates drawn at a time
CEILING_ROWS = 200_000  # the observable ceiling's regressor learns from at most this many rows
# Each feature-group refit learns from at most this many rows (a sample of the last fold's, the same for every
# refit): the groups are compared on the same test rows, each against a model that learned alike. Nine refits
# of 150,000 rows were a fifth of a training run at 100,000 accounts. Measured there on 2026-12-07 (blend):
# 75,000 rows 40.4 s, 40,000 rows 24.8 s, 25,000 rows 18.1 s; with every feature ROC AUC 0.8325, 0.8315,
# 0.8290; at 40,000 the same four groups earn something, in the same order (0.0172 / 0.0161 / 0.0054 /
# 0.0043 against 0.0165 / 0.0144 / 0.0056 / 0.0046, the intervals overlapping), the rest within 0.0005 of 0.
ABLATION_ROWS = 40_000
ABLATION_THREADS = 2  # refits side by side, each on one core (``families.one_core_each``)
# The training rows are bounded whatever the population: every positive and every negative up to these
# many (over all snapshot dates), beyond that a fixed random sample of each class whose rows weigh
# 1 / the class's sampling rate, so that the weighted rows restore the base rate (the probabilities stay
# calibrated) and every model learns what it would from all of them. Test dates are scored on every
# row. A million snapshot rows is 100,000 accounts; below ~25,000 accounts nothing is sampled.
SAMPLE_POSITIVES = 100_000
SAMPLE_NEGATIVES = 200_000
META = ("as_of", "account_id", "label", "weight", "truth")


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


def snapshots_per_month() -> int:
    """Snapshot dates a month: two below ``SCORING_SEMI_MONTHLY_BELOW`` accounts (the 15th and the month's
    end), else one. A small population gives few rows a date, and twice the dates cut the models'
    estimation error (at the demo's 2,000 accounts XGBoost ranked 0.8235 instead of 0.8200); above it,
    monthly rows are plenty."""
    return 2 if Account.objects.count() < settings.SCORING_SEMI_MONTHLY_BELOW else 1


def labelled_dates(
    *, as_of: datetime.date, horizon_days: int, warm_up_days: int = 60, per_month: int | None = None
) -> list[datetime.date]:
    """Snapshot dates whose label window has closed by ``as_of``, with enough history before them: month
    ends, and the 15th too when ``per_month`` is 2 (default: ``snapshots_per_month``)."""
    start = data_start()
    if start is None:
        return []
    first, last = start + datetime.timedelta(days=warm_up_days), as_of - datetime.timedelta(days=horizon_days)
    dates = month_ends(first, last)
    if (per_month or snapshots_per_month()) == 2:
        dates += [d.replace(day=15) for d in month_ends(first, last + datetime.timedelta(days=31))]
        dates = [d for d in dates if first <= d <= last]
    return sorted(set(dates))


def is_month_end(day: datetime.date) -> bool:
    return (day + datetime.timedelta(days=1)).day == 1


def splits(dates: list[datetime.date], *, folds: int, horizon_days: int) -> list[dict]:
    """Rolling origin: each of the last ``folds`` month ends is a test date; train on dates whose window
    closed before it; validate (early stopping) on the newest training date."""
    out = []
    ends = [d for d in sorted(dates) if is_month_end(d)]
    tests = ends if len(ends) >= folds else sorted(dates)
    for test in tests[-folds:]:
        train = [d for d in sorted(dates) if d + datetime.timedelta(days=horizon_days) <= test]
        if len(train) < 2:
            continue
        out.append({"train": train[:-1], "validation": [train[-1]], "test": [test]})
    return out


# --- models --------------------------------------------------------------------------------------------
def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in META]


class ColumnStats:
    """Per column, over every row added (frame by frame): how many values are present, the least and the
    greatest — what ``columns_usable`` needs, without holding the rows."""

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        self.rows = 0
        self.present = np.zeros(len(columns), dtype=np.int64)
        self.low = np.full(len(columns), np.inf)
        self.high = np.full(len(columns), -np.inf)

    def add(self, frame: pd.DataFrame) -> "ColumnStats":
        x = frame.reindex(columns=self.columns).to_numpy(dtype=np.float64)
        missing = np.isnan(x)
        self.rows += len(x)
        self.present += (~missing).sum(axis=0)
        if len(x):
            self.low = np.minimum(self.low, np.where(missing, np.inf, x).min(axis=0))
            self.high = np.maximum(self.high, np.where(missing, -np.inf, x).max(axis=0))
        return self

    def usable(self, columns: list[str]) -> tuple[list[str], list[dict]]:
        """The columns a model can learn from, and a note for each one left out (``columns_usable``)."""
        if not self.rows:
            return list(columns), []
        at = {c: n for n, c in enumerate(self.columns)}
        kept, dropped = [], []
        for column in columns:
            n = at[column]
            if not self.present[n]:
                dropped.append({"feature": column, "reason": "missing on every row"})
            elif self.low[n] == self.high[n] and self.present[n] == self.rows:
                dropped.append(
                    {"feature": column, "reason": f"the same value ({self.low[n]:g}) on every row"}
                )
            else:
                kept.append(column)
        return kept, dropped


def columns_usable(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[dict]]:
    """The columns a model can learn from, and a note for each one left out: missing on every row (no
    account has a founded year, say) or the same value on every row. Neither can rank anything, and
    some estimators refuse them. Partly missing columns stay: every model here takes missing values."""
    return ColumnStats(columns).add(frame).usable(columns)


def rules_scores(as_of: datetime.date, *, read: dict | None = None) -> pd.Series:
    """Account fit + engagement of every account under the ruleset that was published at ``as_of`` (else
    the current one), by account id. ``read``: what earlier days read that does not depend on the day
    (the contacts' and the accounts' fields, per ruleset), used here and added to for the next day."""
    moment = datetime.datetime.combine(as_of, datetime.time.max, tzinfo=datetime.UTC)
    ruleset = (
        Ruleset.objects.filter(published_at__lte=moment)
        .exclude(status=RulesetStatus.DRAFT)
        .order_by("-published_at")
        .first()
        or Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()
    )
    if ruleset is None:
        return pd.Series(0.0, index=pd.Index([], dtype=np.int64))
    spec = spec_for(ruleset)
    kept = {} if read is None else read.setdefault(ruleset.pk, {})
    population = contacts_by_range(spec, as_of, 0, 2**62, contacts=kept.get("contacts"))
    kept["contacts"] = population.contacts
    contacts = evaluate_contacts(spec, population, as_of=as_of, scores_only=True)
    del population
    accounts, scores = account_population(
        spec, as_of, low=0, high=2**62, scores=contacts, accounts=kept.get("accounts")
    )
    kept["accounts"] = accounts.accounts
    result = evaluate_accounts(spec, accounts, scores, as_of=as_of).set_index("account_id")
    return (result["fit"] + result["engagement"]).astype(np.float64)


def rules_scores_of(dates: list[datetime.date]) -> dict[datetime.date, pd.Series]:
    """``rules_scores`` as of each of ``dates``, the contacts and accounts read once (a million contacts'
    fields: about half of a day's reading)."""
    read: dict = {}
    return {day: rules_scores(day, read=read) for day in dates}


def ground_truth(as_of: datetime.date, horizon_days: int, account_ids=None) -> pd.Series | None:
    """The demo generator's propensity for the window after ``as_of`` (stored the day after), of every
    account or of these (an id ``range`` or a list)."""

    rows = DemoGroundTruth.objects.filter(as_of=as_of + datetime.timedelta(days=1), horizon_days=horizon_days)
    if isinstance(account_ids, range):
        rows = rows.filter(account_id__gte=account_ids.start, account_id__lt=account_ids.stop)
    elif account_ids is not None:
        rows = rows.filter(account_id__in=list(account_ids))
    rows = rows.values_list("account_id", "propensity")
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
    """Features that alone rank the label too well: probably known only after the outcome (rows weighted
    by the frame's ``weight`` column, if any: a sample standing for every row)."""
    y = frame["label"].to_numpy()
    if not len(y) or y.min() == y.max():
        return []
    w = families.weights_of(frame)
    w = np.ones(len(y)) if w is None else w
    positive_w, negative_w = w[y == 1], w[y != 1]
    warnings = []
    for column in columns:
        x = frame[column].to_numpy(dtype=np.float64)
        present = x[np.isfinite(x)]
        if not len(present) or present.min() == present.max():
            continue
        # Missing values rank below every known one (either way round: the AUC is folded below).
        auc = _Ranked(np.where(np.isfinite(x), x, present.min() - 1.0), y).auc(positive_w, negative_w)
        auc = max(auc, 1.0 - auc)
        if auc > threshold:
            auc = round(float(auc), 4)
            why = f"on its own it ranks the outcome with ROC AUC {auc:.3f}; probably known only after it"
            warnings.append(
                {
                    "feature": column,
                    "column": column,
                    "auc": auc,
                    "alone_auc": auc,
                    "reasons": [why],
                    "warning": f"{column!r}: {why}",
                }
            )
    return warnings


# --- feature groups and the plain baseline's columns ---------------------------------------------------
# Which group a feature belongs to, by its name (``features.py``); the first pattern that matches wins.
FEATURE_GROUPS: list[tuple[str, str, re.Pattern]] = [
    ("firmographics", "Firmographics (size, revenue, age, industry, country)",
     re.compile(r"^(log_employees|log_revenue|company_age|industry__.+|country__.+)$")),
    ("technographics", "Technologies in use", re.compile(r"^(technologies|tech__.+)$")),
    ("opportunity_history", "Past opportunities and wins",
     re.compile(r"^(opportunities.*|customer|days_since_(opportunity|won|closed))$")),
    ("buying_team", "Breadth of the engaged buying team and persona coverage",
     re.compile(r"^(engaged_.+|persona_coverage_.+|required_persona_coverage_.+)$")),
    ("topics", "Intent topics and research pages by name",
     re.compile(r"^(key__.+|intent_topics_.+|research_pages_.+)$")),
    ("recency", "Recency: days since the last and the first of each signal",
     re.compile(r".+_(days_since|first_in_90d)$")),
    ("trends", "Trends, surges and weekly shape", re.compile(r".+_(trend_30d|surge_7d|week_\d|90_180d)$")),
    ("activity", "Counts per signal and window", re.compile(r"^.+_\d+d$")),
]  # fmt: skip


def feature_group(column: str) -> str:
    for name, _label, pattern in FEATURE_GROUPS:
        if pattern.match(column):
            return name
    return "other"


def plain_columns(columns: list[str]) -> list[str]:
    """What the plain baseline learns from: firmographics and one count per event type (and all, intent)
    per 7/30/90-day window — the per-window counts an analyst exports in an afternoon."""
    simple = re.compile(r"^(all|intent|first_party|[a-z_]+)_(7|30|90)d$")
    derived = ("known_", "active_days_", "research_", "high_intent_")
    return [
        c
        for c in columns
        if feature_group(c) == "firmographics"
        or (feature_group(c) == "activity" and simple.match(c) and not c.startswith(derived))
    ]


# --- the paired bootstrap --------------------------------------------------------------------------------
class _Ranked:
    """One score's order over the rows, found once: the negative rows sorted by score, and each positive
    row's place among them (how many score below it, and below or level with it). Each weighted ROC AUC
    is then one cumulative sum of the negative rows' weights in that order, read at the positive rows'
    places (O(n), no sort). The rows' classes are fixed here (``y``), so that a bootstrap replicate passes
    each class's weights (``weight[y == 1]``, ``weight[y == 0]``); with ``groups`` (an integer per row),
    ``auc_drawn`` takes a weight per group instead and gathers the rows' in the order it sums them."""

    def __init__(self, score: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None):
        score = np.asarray(score, dtype=np.float64)
        positive = np.asarray(y) == 1
        negatives, held = score[~positive], score[positive]
        self.order = np.argsort(negatives, kind="stable")
        ranked = negatives[self.order]
        self.below = np.searchsorted(ranked, held, side="left")
        self.level = np.searchsorted(ranked, held, side="right")
        if groups is not None:
            groups = np.asarray(groups)
            self.positive_groups, self.negative_groups = groups[positive], groups[~positive][self.order]

    def auc(self, positive_w: np.ndarray, negative_w: np.ndarray) -> float:
        return self._auc(positive_w, np.asarray(negative_w, dtype=np.float64)[self.order])

    def auc_drawn(self, drawn: np.ndarray) -> float:
        """The ROC AUC with every row weighted by its group's ``drawn`` (a bootstrap replicate's counts)."""
        return self._auc(drawn[self.positive_groups], drawn[self.negative_groups])

    def _auc(self, positive_w: np.ndarray, negative_w_ordered: np.ndarray) -> float:
        # A positive row beats the negatives below it and ties (half) with those level with it.
        cumulative = np.empty(len(negative_w_ordered) + 1)
        cumulative[0] = 0.0
        np.cumsum(negative_w_ordered, out=cumulative[1:])
        total_pos, total_neg = positive_w.sum(), cumulative[-1]
        if not total_pos or not total_neg:
            return np.nan
        beaten = cumulative[self.below] + cumulative[self.level]  # twice (below + half of level)
        # Multiplied and summed, not ``@``: BLAS's threads would contend with the bootstrap's own.
        return float((positive_w * beaten).sum() / (2.0 * total_pos * total_neg))


def paired_bootstrap(
    y: np.ndarray, scores: dict[str, np.ndarray], groups: np.ndarray, reference: str,
    *, replicates: int = BOOTSTRAP_REPLICATES, seed: int = 0,
) -> dict[str, dict]:  # fmt: skip
    """For each score but ``reference``: its ROC AUC, ``reference``'s minus it, and a 95 % percentile
    interval of that difference over ``replicates`` resamples of the ``groups`` (accounts) with
    replacement — every row of a drawn account counts as often as the account is drawn, in every score
    alike (paired)."""
    y = np.asarray(y, dtype=np.int64)
    _, group = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    ranked = {name: _Ranked(s, y, group) for name, s in scores.items()}
    rng = np.random.default_rng(seed)
    others = [name for name in scores if name != reference]

    def replicate(drawn: np.ndarray) -> list[float]:
        base = ranked[reference].auc_drawn(drawn)
        return [base - ranked[name].auc_drawn(drawn) for name in others]

    # The draws are made here, in order (the same resamples whatever the threads); the replicates' AUCs
    # run in BOOTSTRAP_THREADS threads: NumPy's gathers, cumulative sums and products release the GIL
    # (~1.7 times faster on two cores), and a batch at a time bounds the draws held (a float per account
    # each).
    rows = []
    with ThreadPoolExecutor(BOOTSTRAP_THREADS) as pool:
        for start in range(0, replicates if n_groups else 0, BOOTSTRAP_BATCH):
            batch = [
                np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups).astype(float)
                for _ in range(min(BOOTSTRAP_BATCH, replicates - start))
            ]
            rows.extend(pool.map(replicate, batch))
    deltas = {name: [row[n] for row in rows] for n, name in enumerate(others)}
    ones = np.ones(n_groups)
    full = {name: r.auc_drawn(ones) for name, r in ranked.items()}
    out = {}
    for name, values in deltas.items():
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
        out[name] = {
            "roc_auc": round(full[name], 4),
            "delta": round(full[reference] - full[name], 4),
            "ci": [round(float(low), 4), round(float(high), 4)] if len(values) else None,
            "clearly_better": bool(len(values) and low > 0),
        }
    return out


# --- oracles that need their own fit ----------------------------------------------------------------------
def fit_ceiling(x: np.ndarray, truth: np.ndarray, columns: list[str], weight: np.ndarray | None = None):
    """The observable ceiling: an XGBoost regressor on the true propensities (not the 0/1 outcomes) from
    the same features. With noise-free targets it approaches the best any model of these features can do.
    Rows weighted by ``weight`` if given (a sample standing for every row). It learns from the sparse
    matrix the in-market model learns from (zero and NaN missing): on fold 1's 171,157 rows of the
    100,000-account world 4.7 s instead of 6.4 s from the dense one, its ROC AUC 0.8345 against 0.8346."""
    known = np.flatnonzero(np.isfinite(truth))
    rows = known[families.sample_rows(len(known), CEILING_ROWS)]
    # 200 trees at 0.1 rather than 400 at 0.05: on 200,000 snapshot rows of the 100,000-account world the
    # fold's ceiling read 0.8347 against 0.8351, in 6.5 s instead of 14.6.
    params = {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.1, "subsample": 0.8,
              "colsample_bytree": 0.5, "n_jobs": 2, "random_state": 0}  # fmt: skip
    weight = None if weight is None else weight[rows]
    return families.fit_regressor(families.sparse_of(x[rows]), truth[rows], columns, params, weight=weight)


def truth_lookup(dates: list[datetime.date], horizon_days: int) -> pd.Series | None:
    """The demo ground truth of every snapshot date, indexed by (as_of, account_id); None off demo data."""
    parts = []
    for day in dates:
        series = ground_truth(day, horizon_days)
        if series is not None:
            parts.append(
                pd.Series(series.to_numpy(), index=pd.MultiIndex.from_product([[day], series.index]))
            )
    return pd.concat(parts) if parts else None


def _truth_of(lookup: pd.Series | None, keys: pd.DataFrame) -> np.ndarray | None:
    if lookup is None:
        return None
    index = pd.MultiIndex.from_arrays([keys["as_of"].to_numpy(), keys["account_id"].to_numpy()])
    return lookup.reindex(index).to_numpy(dtype=np.float64)


# --- the training rows: bounded, whatever the population ------------------------------------------------
def _uniform(account_ids: np.ndarray, day: datetime.date) -> np.ndarray:
    """A number in [0, 1) per (account, date), the same on every run and however the rows are chunked:
    which rows a sample keeps (splitmix64 of the pair)."""
    x = np.asarray(account_ids, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x += np.array([day.toordinal()], dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)  # wraps, unwarned
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sampling_rates(dates: list[datetime.date], horizon_days: int) -> dict:
    """The share of positive and of negative snapshot rows training keeps (``SAMPLE_POSITIVES``,
    ``SAMPLE_NEGATIVES``), from counts the database gives at once: every account at every date (an upper
    bound: accounts with an opportunity open are left out) and the accounts that open one in each
    date's window."""
    accounts = Account.objects.count()
    positives = sum(
        Opportunity.objects.filter(
            account__isnull=False,
            created_date__gt=day,
            created_date__lte=day + datetime.timedelta(days=horizon_days),
        )
        .values("account_id")
        .distinct()
        .count()
        for day in dates
    )
    negatives = max(accounts * len(dates) - positives, 0)
    return {
        "positives": min(1.0, SAMPLE_POSITIVES / positives) if positives else 1.0,
        "negatives": min(1.0, SAMPLE_NEGATIVES / negatives) if negatives else 1.0,
    }


class TrainingRows:
    """What the backtest and the final fit learn from, bounded whatever the population: ``store``, every
    snapshot row or — beyond ``SAMPLE_POSITIVES`` / ``SAMPLE_NEGATIVES`` — a fixed sample of each class
    with a ``weight`` of 1 / its rate; the test dates' rows, all of them, read back a chunk at a time
    (``test_chunks``: written to a temporary directory as the features are built); the columns' ranges
    over every row (``stats``); and the demo ground truth (``truth``) where there is one.

    ``build`` makes the features a chunk of accounts × a date at a time (``features.snapshot_chunks``):
    the whole matrix is never in memory; where it can (``revops.chunks.can_fork``), it starts the rules
    baseline of the test dates (``rules_scores``) in a process of its own first, which reads the
    population as of each date while this one builds the features. ``of_frame`` wraps a matrix already
    built (tests, the auc bench). Close it (or use ``with``) to remove the test rows' files.
    ``last_logistic``: the newest fold's logistic regression, which the next fit starts from."""

    def __init__(
        self, *, store, dates, top_keys, stats, tests, sampling, has_truth, directory=None, rules=None
    ):  # fmt: skip
        self.store, self.dates, self.top_keys, self.stats = store, dates, top_keys, stats
        self.tests, self.sampling, self.has_truth = tests, sampling, has_truth
        self.directory = directory
        self._rules: Forked | dict = rules if rules is not None else {}
        # The last logistic regression the backtest fitted (its newest fold): the next fit on these rows
        # (the next fold, the final fit) starts from it (``families.fit_logistic``'s ``start``).
        self.last_logistic: families.Logistic | None = None

    def __enter__(self) -> "TrainingRows":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.directory is not None:
            self.directory.cleanup()
            self.directory = None
        if isinstance(self._rules, Forked):
            self._rules.close()
            self._rules = {}

    def rules_scores(self, day: datetime.date, account_ids: np.ndarray) -> np.ndarray:
        """The rules baseline of these accounts as of the test date ``day`` (0 for an account it does not
        score): computed beside the features where ``build`` could start it, else here."""
        if isinstance(self._rules, Forked):
            try:
                self._rules = self._rules.result()
            except Exception as error:  # its process died or failed: the baseline is computed here instead
                logger.warning(
                    "the rules baseline's process failed (%s); computing it here", error_words(error)
                )
                self._rules = {}
        if day not in self._rules:
            self._rules[day] = rules_scores(day)
        return self._rules[day].reindex(account_ids).fillna(0.0).to_numpy(dtype=np.float64)

    def test_rows(self, dates: list[datetime.date]) -> int:
        return sum(rows for day in dates for _, rows in self.tests.get(day, []))

    def test_chunks(self, dates: list[datetime.date]):
        """Every row of these test dates, a chunk at a time."""
        for day in dates:
            for part, _ in self.tests.get(day, []):
                yield part if isinstance(part, pd.DataFrame) else pd.read_pickle(part)

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, *, horizon_days: int, test_dates) -> "TrainingRows":
        dates = sorted(set(frame["as_of"]))
        truth = truth_lookup(dates, horizon_days)
        if truth is not None:
            frame = frame.assign(truth=_truth_of(truth, frame))
        tests = {}
        for day in set(test_dates):
            part = frame[frame["as_of"] == day]
            tests[day] = [(part, len(part))] if len(part) else []
        stats = ColumnStats(feature_columns(frame)).add(frame)
        sampling = {"positives": 1.0, "negatives": 1.0, "rows": len(frame), "kept": len(frame)}
        return cls(store=frame, dates=dates, top_keys=frame.attrs.get("top_keys", []), stats=stats,
                   tests=tests, sampling=sampling, has_truth=truth is not None)  # fmt: skip

    @classmethod
    def build(
        cls, *, dates: list[datetime.date], horizon_days: int, test_dates, progress=None
    ) -> "TrainingRows":
        tracker = as_progress(progress)
        tracker.begin("features", f"features of {len(dates)} snapshot dates …")
        dates, test_dates = sorted(dates), set(test_dates)
        # The rules baseline of the test dates reads the population again, as of each: on PostgreSQL
        # a forked process does that while this one builds the features (each mostly waits on its own
        # database session, or runs pandas on one core).
        rules = Forked(rules_scores_of, {"dates": sorted(test_dates)}) if test_dates and can_fork() else None
        rates = sampling_rates(dates, horizon_days)
        sampled = rates["positives"] < 1.0 or rates["negatives"] < 1.0
        has_truth = DemoGroundTruth.objects.filter(horizon_days=horizon_days).exists()
        directory = tempfile.TemporaryDirectory(prefix="revops-train-")
        pieces, tests, stats, seen, positives = [], {day: [] for day in test_dates}, None, 0, 0
        top_keys: list = []
        # One step a chunk of accounts × a date (the chunks are the accounts' id ranges: one cheap query).
        parts = max(1, len(F.account_chunks(None)))
        planned = parts * max(1, len(dates))
        try:
            chunks = F.snapshot_chunks(dates=dates, horizon_days=horizon_days)
            for n, chunk in enumerate(chunks):
                part = f", accounts part {n // len(dates) + 1} of {parts}" if parts > 1 else ""
                which = f"snapshot date {n % len(dates) + 1} of {len(dates)}{part}"
                tracker.advance(n + 1, planned, f"features: {which}")
                as_of = chunk["as_of"].iat[0] if len(chunk) else None
                top_keys = chunk.attrs.get("top_keys", top_keys)
                if as_of is None:
                    continue
                if has_truth:
                    ids = chunk["account_id"].to_numpy()
                    truth = ground_truth(as_of, horizon_days, range(int(ids.min()), int(ids.max()) + 1))
                    chunk["truth"] = (
                        np.full(len(chunk), np.nan)
                        if truth is None
                        else truth.reindex(ids).to_numpy(np.float64)
                    )
                if stats is None:
                    stats = ColumnStats(feature_columns(chunk))
                stats.add(chunk)
                y = chunk["label"].to_numpy()
                seen, positives = seen + len(chunk), positives + int(y.sum())
                if as_of in test_dates:
                    path = os.path.join(directory.name, f"{n}.pickle")
                    chunk.to_pickle(path)
                    tests[as_of].append((path, len(chunk)))
                if sampled:
                    rate = np.where(y == 1, rates["positives"], rates["negatives"])
                    keep = _uniform(chunk["account_id"].to_numpy(), as_of) < rate
                    chunk = chunk[keep]
                    chunk.insert(len(chunk.columns), "weight", 1.0 / rate[keep])
                pieces.append(chunk)
            tracker.advance(planned, planned, f"features: {seen:,} snapshot rows, {len(pieces)} chunks")
        except BaseException:
            directory.cleanup()
            if rules is not None:
                rules.close()
            raise
        store = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=list(META[:3]))
        del pieces
        store.attrs["top_keys"] = top_keys
        sampling = {**rates, "rows": seen, "positive_rows": positives, "kept": len(store)}
        return cls(store=store, dates=dates, top_keys=top_keys, stats=stats or ColumnStats([]), tests=tests,
                   sampling=sampling, has_truth=has_truth, directory=directory, rules=rules)  # fmt: skip


def _weights(frame: pd.DataFrame) -> np.ndarray | None:
    return families.weights_of(frame)


# --- what each feature group earns -----------------------------------------------------------------------
def group_ablation(
    rows: "TrainingRows | pd.DataFrame", split: dict, columns: list[str], family: str, params: dict | None,
    *, progress=None,
) -> dict:  # fmt: skip
    """The champion family refit on the last fold without each feature group in turn (training rows
    sampled to ``ABLATION_ROWS``): its ROC AUC on the fold's test rows without the group, and how much
    lower that is than with every feature (paired bootstrap by account). ``progress`` hears each refit."""
    tracker = as_progress(progress)
    if isinstance(rows, pd.DataFrame):
        rows = TrainingRows.of_frame(rows, horizon_days=90, test_dates=split["test"])
    store = rows.store
    # The champion's settings are fixed (trees, strength): no early stopping, one fit per group.
    train = store[store["as_of"].isin([*split["train"], *split["validation"]])]
    train = train.iloc[families.sample_rows(len(train), ABLATION_ROWS)]
    if not rows.test_rows(split["test"]) or train["label"].nunique() < 2:
        return {}
    present: dict[str, list[str]] = {}
    for column in columns:
        present.setdefault(feature_group(column), []).append(column)
    refits = len(present) + 2  # with every feature, without each group, then scoring the test rows
    labels = {name: label for name, label, _ in FEATURE_GROUPS}
    fits = [("all", columns)]
    for group, group_columns in present.items():
        rest = [c for c in columns if c not in set(group_columns)]
        if rest:
            fits.append((group, rest))
    # The refits are independent: ABLATION_THREADS at a time, each on one core (``one_core_each``).
    single = {**(params or {}), "n_jobs": 1}

    def refit(job: tuple[str, list[str]]):
        return families.fit(family, train, None, job[1], single)

    def following(n: int) -> str:
        if n >= len(fits):
            return "feature groups: scoring the test rows …"
        what = labels.get(fits[n][0], "other features").split(" (")[0].lower()
        return f"feature groups: refit {n + 1} of {refits - 1}, without {what} …"

    tracker.advance(0, refits, "feature groups: refit with every feature …")
    models = {}
    ys, accounts = [], []
    with families.one_core_each(ABLATION_THREADS) as pool:
        for n, model in enumerate(pool.map(refit, fits), start=1):
            models[fits[n - 1][0]] = model
            tracker.advance(n, refits, following(n))
        parts: dict[str, list] = {name: [] for name in models}
        for test in rows.test_chunks(split["test"]):
            ys.append(test["label"].to_numpy())
            accounts.append(test["account_id"].to_numpy())
            scored = pool.map(lambda model, rows=test: model.predict(rows), models.values())
            for name, p in zip(models, scored, strict=True):
                parts[name].append(p)
    y = np.concatenate(ys)
    if len(np.unique(y)) < 2:
        return {}
    scores = {name: np.concatenate(p) for name, p in parts.items()}
    differences = paired_bootstrap(y, scores, np.concatenate(accounts), "all", replicates=200)
    tracker.advance(refits, refits)
    return {
        "family": family,
        "test_date": split["test"][0].isoformat(),
        "train_rows": len(train),
        "roc_auc": round(float(roc_auc_score(y, scores["all"])), 4),
        "groups": [
            {
                "group": group,
                "label": labels.get(group, "Other"),
                "columns": len(present[group]),
                "roc_auc_without": differences[group]["roc_auc"],
                "earns": differences[group]["delta"],
                "ci": differences[group]["ci"],
            }
            for group in sorted(differences, key=lambda g: -differences[g]["delta"])
        ],  # fmt: skip
    }


# --- the backtest --------------------------------------------------------------------------------------
def run(
    *,
    as_of: datetime.date | None = None,
    horizon_days: int = 90,
    folds: int = 3,
    frame: pd.DataFrame | None = None,
    params: dict | None = None,
    progress=None,
    ablation: bool | None = None,
    exclude: list[str] | tuple = (),
    rows: TrainingRows | None = None,
) -> dict:
    """The whole report: per model, metrics pooled over the test folds (with the chart curves) and per fold
    (figures only, to keep the report small); the champion family and its differences; what each
    feature group earns; the split; dropped columns and warnings. The rows: ``rows`` as built
    (``TrainingRows``), else ``frame``, else built here from the database, bounded."""
    say = as_progress(progress)
    started = time.monotonic()
    as_of = as_of or data_end()
    own = None
    if rows is None:
        if frame is None:
            dates = labelled_dates(as_of=as_of, horizon_days=horizon_days)
            tests = [d for s in splits(dates, folds=folds, horizon_days=horizon_days) for d in s["test"]]
            say(f"features for {len(dates)} snapshots …")
            rows = own = TrainingRows.build(
                dates=dates, horizon_days=horizon_days, test_dates=tests, progress=say
            )
        else:
            dates = sorted(set(frame["as_of"]))
            tests = [d for s in splits(dates, folds=folds, horizon_days=horizon_days) for d in s["test"]]
            rows = own = TrainingRows.of_frame(frame, horizon_days=horizon_days, test_dates=tests)
    try:
        return _report(rows, as_of=as_of, horizon_days=horizon_days, folds=folds, params=params, say=say,
                       ablation=ablation, exclude=exclude, started=started)  # fmt: skip
    finally:
        if own is not None:
            own.close()


def _report(
    rows: TrainingRows, *, as_of, horizon_days, folds, params, say, ablation, exclude, started
) -> dict:
    store, dates = rows.store, rows.dates
    feature_time = time.monotonic() - started
    candidates = [c for c in feature_columns(store) if c not in set(exclude)]
    columns, dropped = rows.stats.usable(candidates)
    dropped += [{"feature": c, "reason": "excluded from training by a person"} for c in exclude if c in store]
    plain = plain_columns(columns)
    plain_at = [columns.index(c) for c in plain]
    folds_out, pooled = [], {m: [] for m in MODELS}
    pooled_y, pooled_accounts = [], []
    strength = binning = None
    warnings: list[dict] | None = None
    chosen = splits(dates, folds=folds, horizon_days=horizon_days)
    say.begin("backtest", "backtest …")

    def fold_step(k: int, steps: int) -> None:
        """``steps`` of fold ``k``'s ``FOLD_STEPS`` are done; the message names the next one."""
        done = k + sum(share for _, _, share in FOLD_STEPS[:steps])
        which = f"backtest fold {k + 1} of {len(chosen)}"
        next_one = f"{which}: {FOLD_STEPS[steps][1]} …" if steps < len(FOLD_STEPS) else f"{which} done"
        say.advance(done, len(chosen), next_one)

    def day(value) -> str:  # as the pages write a day: "15 Aug 2025"
        return date_format(pd.Timestamp(value).date(), "DATE_FORMAT")

    for k, split in enumerate(chosen):
        train_days = f"{day(split['train'][0])} – {day(split['validation'][0])}"
        say(f"fold {k + 1}: train {train_days}, test {day(split['test'][0])}")
        fold_step(k, 0)
        train = store[store["as_of"].isin(split["train"])]
        validation = store[store["as_of"].isin(split["validation"])]
        if train["label"].nunique() < 2 or not rows.test_rows(split["test"]):
            fold_step(k, len(FOLD_STEPS))
            continue
        # XGBoost stops early on the validation rows; every other model learns from training and
        # validation rows together: one dense matrix of both, made once XGBoost no longer needs the
        # frames.
        xgb = families.fit_xgboost(train, validation, columns, params)
        fold_step(k, 1)
        # Logistic regression's strength is chosen once, on the first fold's validation date: it precedes
        # every test date, and the choice is stable enough not to pay for it in every fold.
        if strength is None:
            strength = (params or {}).get("C") or families.logistic_strength(train, validation, columns)
        # So is naive Bayes's binning (a baseline's setting).
        binning = binning or families.naive_bayes_binning(train, validation, columns)
        both = pd.concat([train, validation], ignore_index=True)
        del train, validation
        if warnings is None:
            warnings = leakage_warnings(both, columns)
        x_both, y_both = both[columns].to_numpy(dtype=np.float64), both["label"].to_numpy()
        w_both = _weights(both)
        truth_both = both["truth"].to_numpy(dtype=np.float64) if "truth" in both else None
        del both
        logistic = families.fit_logistic(
            x_both, y_both, columns, C=strength, weight=w_both, start=rows.last_logistic
        )
        rows.last_logistic = logistic
        fold_step(k, 2)
        nb = families.BinnedNB(binning).fit(x_both, y_both, w_both)
        fold_step(k, 3)
        plain_model = families.fit_plain_xgboost(x_both[:, plain_at], y_both, plain, weight=w_both)
        fold_step(k, 4)
        ceiling = (
            fit_ceiling(x_both, truth_both, columns, w_both)
            if truth_both is not None and np.isfinite(truth_both).any()
            else None
        )
        del x_both
        fold_step(k, 5)
        # The test date's rows, every one of them, a chunk at a time.
        parts: dict[str, list] = {}
        y_parts, account_parts = [], []
        for test in rows.test_chunks(split["test"]):
            x_test = test[columns].to_numpy(dtype=np.float64)
            p_xgb, z_logistic = xgb.predict(x_test), logistic.log_odds(x_test)
            w = families.BLEND_WEIGHT
            chunk_scores = {
                "xgboost": p_xgb,
                "logistic_regression": families.sigmoid(z_logistic),
                "blend": families.sigmoid(w * families.logit(p_xgb) + (1.0 - w) * z_logistic),
                "plain_xgboost": plain_model.predict(x_test[:, plain_at]),
                "naive_bayes": nb.predict_proba(x_test)[:, 1],
            }
            if rows.has_truth and "truth" in test:
                chunk_scores["ground_truth"] = np.nan_to_num(
                    test["truth"].to_numpy(dtype=np.float64), nan=0.0
                )
            if ceiling is not None:
                chunk_scores["observable_ceiling"] = np.clip(
                    ceiling.predict(x_test).astype(np.float64), 0.0, 1.0
                )
            for name, values in chunk_scores.items():
                parts.setdefault(name, []).append(values)
            y_parts.append(test["label"].to_numpy())
            account_parts.append(test["account_id"].to_numpy())
            del x_test
        y, test_accounts = np.concatenate(y_parts), np.concatenate(account_parts)
        scores = {name: np.concatenate(values) for name, values in parts.items()}
        scores["rules"] = rows.rules_scores(split["test"][0], test_accounts)
        fold = {
            "train_dates": [d.isoformat() for d in split["train"]],
            "validation_dates": [d.isoformat() for d in split["validation"]],
            "test_dates": [d.isoformat() for d in split["test"]],
            "train_rows": len(y_both),
            **({"train_rows_weighted": round(float(w_both.sum()))} if w_both is not None else {}),
            "xgboost_trees": int(xgb.n_estimators),
            "logistic_c": strength,
            "naive_bayes_binning": binning,
            "models": {m: metrics(y, s, probability=m != "rules", curves=False) for m, s in scores.items()},
        }
        folds_out.append(fold)
        fold_step(k, len(FOLD_STEPS))
        pooled_y.append(y)
        pooled_accounts.append(test_accounts)
        for m, s in scores.items():
            pooled[m].append(s)
    y_all = np.concatenate(pooled_y) if pooled_y else np.zeros(0, dtype=np.int64)
    pooled_scores = {
        m: np.concatenate(pooled[m]) for m in MODELS if pooled[m] and len(pooled[m]) == len(pooled_y)
    }
    report_models = {m: metrics(y_all, s, probability=m != "rules") for m, s in pooled_scores.items()}
    champion = champion_choose(report_models, y_all, pooled_scores, np.concatenate(pooled_accounts)
                               if pooled_accounts else np.zeros(0))  # fmt: skip
    # The final model's settings: the folds' median tree count and the regularisation strength chosen.
    trees = int(np.median([f["xgboost_trees"] for f in folds_out])) if folds_out else None
    strength = strength or families.LOGISTIC_C
    groups = {}
    if ablation is None:
        ablation = settings.SCORING_FEATURE_ABLATION
    if ablation and champion and chosen:
        say(f"what each feature group earns ({champion['family']}) …")
        say.begin("ablation")
        fixed = {**(params or {}), "C": strength, **({"n_estimators": trees} if trees else {})}
        groups = group_ablation(rows, chosen[-1], columns, champion["family"], fixed, progress=say)
    return {
        "kind": "in_market",
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "snapshot_dates": [d.isoformat() for d in dates],
        "features": columns,
        "dropped_features": dropped,
        "plain_features": plain,
        "top_keys": rows.top_keys,
        "sampling": _sampling_report(rows.sampling),
        "folds": folds_out,
        "models": report_models,
        "candidates": list(families.CANDIDATES),
        "baselines": list(BASELINES),
        "oracles": [m for m in ORACLES if m in report_models],
        "champion": champion,
        "feature_groups": groups,
        "leakage_warnings": warnings or [],
        "xgboost_trees": trees,
        "logistic_c": strength,
        "notes": REPORT_NOTES,
        "seconds": {"features": round(feature_time, 2), "total": round(time.monotonic() - started, 2)},
    }


def _sampling_report(sampling: dict) -> dict:
    """How the training rows were sampled, in the report's words."""
    sampled = sampling["positives"] < 1.0 or sampling["negatives"] < 1.0
    return {
        "snapshot_rows": sampling["rows"],
        "rows_kept": sampling["kept"],
        "positive_rate": round(sampling["positives"], 6),
        "negative_rate": round(sampling["negatives"], 6),
        "weighted": sampled,
        "note": (
            f"training learns from every positive row kept at rate {sampling['positives']:.4g} and every "
            f"negative at rate {sampling['negatives']:.4g}; each kept row weighs 1 / its class's rate, so "
            "the weighted rows restore the base rate (calibrated probabilities). Test dates are scored on "
            "every row."
            if sampled
            else "every snapshot row (none sampled)"
        ),
    }


REPORT_NOTES = {
    "champion": "the candidate family (XGBoost, logistic regression, their blend) with the best pooled "
    "ROC AUC is the one trained and shipped; differences carry 95 % intervals from a paired bootstrap "
    "over accounts",
    "logistic_regression": "L2 logistic regression; missing values as training medians with indicators, "
    "0/1 columns as they are, others raw and signed-log, standardised; strength chosen on the first "
    "validation date; at most 250,000 training rows (a random sample), as naive Bayes",
    "blend": "XGBoost and logistic regression averaged in log-odds",
    "plain_xgboost": "XGBoost with the library's defaults on firmographics and per-window counts by event "
    "type: the model an analyst writes in an afternoon",
    "naive_bayes": "categorical naive Bayes, every feature binned by its training deciles or present/absent "
    "(whichever ranks the validation date better; missing: a bin of its own)",
    "rules": "fit + engagement of the published ruleset as of each test date; not a probability",
    "observable_ceiling": "oracle (demo data only): a regressor trained on the generator's true "
    "propensities from the same features — about the best any model of these features can do",
    "ground_truth": "oracle (demo data only): the generator's true propensity for the same window; it also "
    "knows hidden state (a budget, when a buying cycle starts, cooling) that no data shows",
    "curves": "ROC, lift and capture by decile and score histograms are pooled over the test folds",
    "sampling": "beyond 100,000 positive and 200,000 negative snapshot rows, training learns from a fixed "
    "random sample of each class, every kept row weighted by 1 / its class's rate (the weighted rows restore "
    "the base rate); test dates are scored on every row (see sampling)",
}


def champion_choose(models: dict, y: np.ndarray, scores: dict, accounts: np.ndarray) -> dict | None:
    """The candidate with the best pooled ROC AUC (the first in ``CANDIDATES`` order among equals), and
    every other row's difference to it with a paired bootstrap interval."""
    ranked = [
        (models[m]["roc_auc"], -n, m)
        for n, m in enumerate(families.CANDIDATES)
        if m in models and models[m]["roc_auc"] is not None
    ]
    if not ranked:
        return None
    best = max(ranked)[2]
    differences = paired_bootstrap(y, scores, accounts, best) if len(np.unique(y)) == 2 else {}
    return {
        "family": best,
        "roc_auc": round(models[best]["roc_auc"], 4),
        "pr_auc": round(models[best]["pr_auc"], 4) if models[best]["pr_auc"] is not None else None,
        "chosen_from": [m for m in families.CANDIDATES if m in models],
        "differences": differences,
        "bootstrap": {"replicates": BOOTSTRAP_REPLICATES, "resampled": "accounts", "interval": 0.95},
    }
