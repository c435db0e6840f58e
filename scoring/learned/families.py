"""The model families a learned score is chosen from, and the baselines it is measured against.

Every family fits on a frame's feature columns and gives back a fitted model with one interface
(``Fitted``): ``predict`` (probabilities), ``contributions`` (each row as additive log-odds contributions,
one per column and the bias last, which sum to the row's log-odds: the explanation) and ``artefact``
(the bytes a ``ScoringModel`` stores; ``load`` reads them back). The backtest fits each family on the
same folds and the one that ranks best is shipped (``FAMILIES``; the registry scores with whichever a
version names in ``params["family"]``, XGBoost for versions from before families).

* ``xgboost`` — gradient-boosted trees, shallow and few, early stopping on the newest training date; SHAP
  contributions (``scoring.engine.treeshap``'s tables for such trees, XGBoost's ``pred_contribs`` else).
* ``logistic_regression`` — L2-regularised logistic regression on what a careful analyst would prepare:
  a missing value is the training median, counts are heavy-tailed so each value is signed-log
  transformed, then standardised. Its contributions are coefficient × standardised value (exact for a
  linear model whose inputs are centred on the training rows).
* ``blend`` — the two averaged in log-odds, so that its contributions are the average of theirs.

Baselines (measured, never shipped): ``naive_bayes`` — categorical naive Bayes with every number binned by
its training deciles (missing is a bin of its own), and ``plain_xgboost`` — XGBoost with the library's
default settings on simple per-window counts and firmographics, what an analyst writes in an afternoon.
"""

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scoring.engine import treeshap

# XGBoost, SciPy and scikit-learn are imported inside the functions that use them (heavy libraries): a
# process that scores with a stored logistic regression needs none of them, one that scores with XGBoost
# needs XGBoost alone.

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
# XGBoost's own defaults (``xgboost.XGBClassifier()``), for the plain baseline.
PLAIN_XGB_PARAMS = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.3, "tree_method": "hist",
                    "n_jobs": 2, "eval_metric": "logloss"}  # fmt: skip
LOGISTIC_C = 0.5
BLEND_WEIGHT = 0.5  # the XGBoost share of the blend's log-odds
NB_BINS = 10
CANDIDATES = ("xgboost", "logistic_regression", "blend")
FAMILY_KEY = b'{"family":'  # how a family's artefact starts (an XGBoost booster's JSON does not)


# --- matrices --------------------------------------------------------------------------------------------
def sparse_input(frame: pd.DataFrame, columns: list[str]):
    """``frame[columns]`` as a float32 CSR matrix without its zeros and NaN (both are missing)."""
    return sparse_of(frame[columns].to_numpy(dtype=np.float64))


def sparse_of(x: np.ndarray):
    """A dense matrix as a float32 CSR matrix without its zeros and NaN (both are missing; infinities
    stay). A frame's values come column-major (pandas keeps each column's together; one block of them is
    a view, no copy): those are read a column at a time, as the rows of their transpose, and only the
    values kept become float32 — 0.9 s for 191,741 × 230 snapshot rows, where converting the whole
    matrix and scanning it row by row across the columns took 1.7–2.2 s."""
    from scipy import sparse  # heavy: loaded where a model is fitted or read

    x = np.asarray(x)
    if not (x.flags.f_contiguous and not x.flags.c_contiguous):
        x = np.nan_to_num(x.astype(np.float32), copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)
        return sparse.csr_matrix(x)
    by_column = sparse.csr_matrix(x.T).T.tocsr()  # CSR of the transpose: its CSC, then rows again
    data = by_column.data.astype(np.float32)
    data[np.isnan(data)] = 0.0
    out = sparse.csr_matrix((data, by_column.indices, by_column.indptr), shape=x.shape)
    out.eliminate_zeros()  # the NaN, and values too small for float32
    return out


def dense(x, columns: list[str], dtype=np.float32) -> np.ndarray:
    """A frame's ``columns`` (absent ones 0), or a matrix already in their order, as a dense array."""
    if isinstance(x, pd.DataFrame):
        if all(c in x.columns for c in columns):
            return x[columns].to_numpy(dtype=dtype)
        return x.reindex(columns=columns, fill_value=0.0).to_numpy(dtype=dtype)
    return np.asarray(x, dtype=dtype)


def dmatrix(x, *, params: dict | None, feature_names: list[str]):
    """A dense matrix to score with a stored XGBoost model: missing values as the model was trained with
    them (``params["missing"]``; models trained before it have none: NaN)."""
    from xgboost import DMatrix  # heavy: loaded where a model is fitted or read

    missing = (params or {}).get("missing")
    return DMatrix(x, feature_names=feature_names, missing=np.nan if missing is None else float(missing))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1.0 - 1e-7)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


# --- fits side by side ------------------------------------------------------------------------------------
@contextmanager
def one_core_each(threads: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``threads`` threads for independent fits, each fit on one core: BLAS limited to one
    thread while the pool lives (two BLAS threads in each of two fits mostly wait on each other), and the
    caller's XGBoost on ``nthread`` 1 (its ``n_jobs``). XGBoost and BLAS release the GIL, so on two cores
    two small fits side by side take ~70 % of the time of one after another on both cores, where threads
    mostly synchronise (measured on 40,000–50,000-row fits). With one thread: no limit, the pool runs in
    turn."""
    with (
        threadpool_limits(limits=1, user_api="blas") if threads > 1 else nullcontext(),
        ThreadPoolExecutor(max(1, threads)) as pool,
    ):
        yield pool


# --- XGBoost ---------------------------------------------------------------------------------------------
# Threads a stored booster predicts with (None: XGBoost's default, every core). A process of a pool sets
# its share: the command's (``rescore._share_cores``) here, a Celery worker's in ``REVOPS_XGB_THREADS``.
XGB_THREADS: int | None = None


def loaded(booster):
    """A booster loaded to score with, on this process's share of the cores."""
    threads = XGB_THREADS or int(os.environ.get("REVOPS_XGB_THREADS") or 0)
    if threads:
        booster.set_param({"nthread": threads})
    return booster


# scikit-learn's names of XGB_PARAMS (kept in every registered model's parameters) → XGBoost's own.
_NATIVE = {"learning_rate": "eta", "reg_lambda": "lambda", "reg_alpha": "alpha", "n_jobs": "nthread"}
_NOT_BOOSTER = {"n_estimators", "missing", "random_state", "early_stopping_rounds", "family", "top_keys",
                "encoding", "folds", "C", "blend_weight"}  # fmt: skip


def booster_params(params: dict) -> dict:
    out = {_NATIVE.get(k, k): v for k, v in params.items() if k not in _NOT_BOOSTER}
    return {"objective": "binary:logistic", "seed": params.get("random_state", 0), **out}


class Fitted:
    """What every fitted family answers: ``predict`` (a probability per row), ``predict_proba`` as in
    scikit-learn, ``contributions`` and ``artefact`` (each family's own)."""

    def predict(self, x) -> np.ndarray:
        return sigmoid(self.log_odds(x))

    def predict_proba(self, x) -> np.ndarray:
        p = self.predict(x)
        return np.column_stack([1.0 - p, p])


class Boosted(Fitted):
    """An XGBoost model: the booster (feature names kept: stored models are scored by name), its number of
    trees, ``predict_proba`` as in scikit-learn, for a frame with the training columns or a matrix in their
    order. Missing values as in training (``dmatrix``)."""

    family = "xgboost"

    def __init__(self, booster, *, columns: list[str], params: dict):
        booster.feature_names = list(columns)
        self.booster, self.columns, self.params = booster, list(columns), params
        self.n_estimators = int(booster.num_boosted_rounds())
        self._explainer: treeshap.Explainer | None | bool = False  # built at the first explanation

    def get_booster(self):
        return self.booster

    def _matrix(self, x):
        if not hasattr(x, "tocsr"):  # a dense matrix (a sparse one is already the training's kind)
            x = dense(x, self.columns)
        return dmatrix(x, params=self.params, feature_names=self.columns)

    def predict(self, x) -> np.ndarray:
        if hasattr(x, "tocsr"):
            return self.booster.predict(self._matrix(x)).astype(np.float64)
        # Dense rows are predicted in place: no DMatrix copy of them (~35 % of a prediction's time).
        missing = self.params.get("missing")
        missing = np.nan if missing is None else float(missing)
        return self.booster.inplace_predict(dense(x, self.columns), missing=missing).astype(np.float64)

    @property
    def explainer(self) -> treeshap.Explainer | None:
        """This booster's SHAP tables (``treeshap``), built once; None where they do not cover it."""
        if self._explainer is False:
            self._explainer = treeshap.explainer_of(
                json.loads(bytes(self.booster.save_raw(raw_format="json")))
            )
        return self._explainer

    def contributions(self, x) -> np.ndarray:
        """SHAP values: by the tables (the same values; 100,000 accounts 7.2 → ~0.9 s) where they cover
        the booster and the rows are dense, else by XGBoost's ``pred_contribs``."""
        if self.explainer is None or hasattr(x, "tocsr"):
            return self.booster.predict(self._matrix(x), pred_contribs=True).astype(np.float64)
        return self.explainer.contributions(dense(x, self.columns), missing=self.params.get("missing"))

    def artefact(self) -> bytes:
        return bytes(self.booster.save_raw(raw_format="json"))


def weights_of(frame: pd.DataFrame) -> np.ndarray | None:
    """A frame's row weights (``weight``: a sample of the rows standing for all of them), or None."""
    return frame["weight"].to_numpy(dtype=np.float64) if "weight" in frame.columns else None


def _boost(x, y: np.ndarray, params: dict, validation: tuple | None = None, weight=None):
    """``xgboost.train`` on the sparse matrix ``x`` (``sparse_input``; the histogram index built once,
    ``QuantileDMatrix``), rows weighted by ``weight`` if any; with ``validation`` (its matrix, labels and
    optionally weights), early stopping on its log loss. XGBoost's own API: its scikit-learn wrapper
    scores the validation rows through the histogram index each round, several times slower."""
    import xgboost  # heavy: loaded where a model is fitted or read

    missing = params.get("missing", np.nan)
    data = xgboost.QuantileDMatrix(x, y, weight=weight, missing=missing)
    extra = {}
    if validation is not None:
        check_weight = validation[2] if len(validation) > 2 else None
        check = xgboost.DMatrix(validation[0], validation[1], weight=check_weight, missing=missing)
        extra = {"evals": [(check, "validation")], "early_stopping_rounds": EARLY_STOPPING_ROUNDS}
    return xgboost.train(
        booster_params(params), data, num_boost_round=int(params["n_estimators"]), verbose_eval=False, **extra
    )


def _stopped_at(booster) -> int:
    return int(booster.best_iteration) + 1


def early_stopping_trees(
    train: pd.DataFrame, validation: pd.DataFrame, columns: list[str], params=None
) -> int:
    """How many trees (at most ``n_estimators``) to boost: trained on ``train``, stopped when the log loss
    on ``validation`` has not improved for ``EARLY_STOPPING_ROUNDS`` rounds."""
    params = {**XGB_PARAMS, **(params or {})}
    check = (sparse_input(validation, columns), validation["label"].to_numpy(), weights_of(validation))
    x, y = sparse_input(train, columns), train["label"].to_numpy()
    return _stopped_at(_boost(x, y, params, check, weights_of(train)))


def fit_xgboost(
    train: pd.DataFrame, validation: pd.DataFrame | None, columns: list[str], params=None
) -> Boosted:
    """XGBoost on ``train``; with a ``validation`` set of both classes, the number of trees is chosen by
    early stopping on it, then the model is refit on both with that many trees. Each part becomes a
    sparse matrix once; the refit stacks them (no concatenated copy of the frames). Rows are weighted by
    the frames' ``weight`` column if they have one (a sample standing for every row)."""
    from scipy import sparse  # heavy: loaded where a model is fitted or read

    params = {**XGB_PARAMS, **(params or {})}
    x, y, w = sparse_input(train, columns), train["label"].to_numpy(), weights_of(train)
    if validation is not None and len(validation) and validation["label"].nunique() == 2:
        x_check, y_check = sparse_input(validation, columns), validation["label"].to_numpy()
        w_check = weights_of(validation)
        params["n_estimators"] = _stopped_at(_boost(x, y, params, (x_check, y_check, w_check), w))
        x, y = sparse.vstack([x, x_check], format="csr"), np.concatenate([y, y_check])
        if w is not None or w_check is not None:
            ones = np.ones
            w = np.concatenate([ones(len(y) - len(y_check)) if w is None else w,
                                ones(len(y_check)) if w_check is None else w_check])  # fmt: skip
        del x_check
    return Boosted(_boost(x, y, params, weight=w), columns=columns, params=params)


def fit_regressor(x, target: np.ndarray, columns: list[str], params: dict, *, weight=None) -> Boosted:
    """An XGBoost regressor (squared error) on the sparse matrix ``x`` (``sparse_input``'s kind: zero and
    NaN are missing), ``params`` as in ``XGB_PARAMS`` (``n_estimators`` trees), rows weighted by
    ``weight`` if any. ``predict`` gives its estimates, not probabilities."""
    params = {**params, "missing": 0.0, "objective": "reg:squarederror"}
    return Boosted(_boost(x, target, params, weight=weight), columns=columns, params=params)


def fit_plain_xgboost(x: np.ndarray, y: np.ndarray, columns: list[str], *, weight=None) -> Boosted:
    """The plain baseline: XGBoost's defaults (no early stopping, no tuning), NaN as missing."""
    import xgboost  # heavy: loaded where a model is fitted or read

    params = {**PLAIN_XGB_PARAMS, "missing": np.nan}
    data = xgboost.DMatrix(np.asarray(x, dtype=np.float32), y, weight=weight, missing=np.nan)
    booster = xgboost.train(booster_params(params), data, num_boost_round=params["n_estimators"])
    return Boosted(booster, columns=columns, params=params)


# --- logistic regression ---------------------------------------------------------------------------------
class Logistic(Fitted):
    """A fitted logistic regression: the preparation and the coefficients, all plain arrays — it predicts
    and explains with NumPy alone.

    The preparation, as a careful analyst makes it: a missing value is the training median, with a
    "was missing" indicator for each column that had missing values in training (``flagged``); a 0/1
    column stays 0/1 (scaling a rare flag up would loosen its penalty); every other column enters twice,
    as itself and as its signed log (``logged``: a count's effect is often closer to linear in its
    logarithm, an amount's in itself), both standardised and clipped at ``CLIP`` deviations."""

    family = "logistic_regression"

    def __init__(self, *, columns, median, mean, scale, coef, intercept: float, C: float = LOGISTIC_C,
                 flagged=(), logged=()):  # fmt: skip
        self.columns = list(columns)
        self.median, self.mean, self.scale, self.coef = (
            np.asarray(v, dtype=np.float64) for v in (median, mean, scale, coef)
        )
        self.flagged = np.asarray(flagged, dtype=np.int64)
        self.logged = np.asarray(logged, dtype=np.int64)
        self.intercept, self.C = float(intercept), float(C)

    def standardised(self, x) -> np.ndarray:
        z = dense(x, self.columns, dtype=np.float64)  # only read: _prepared writes a new array
        return _prepared(z, self.median, self.flagged, self.logged, self.mean, self.scale)

    def log_odds(self, x) -> np.ndarray:
        return self.standardised(x) @ self.coef + self.intercept

    def contributions(self, x) -> np.ndarray:
        """coefficient × prepared value per column, its log and its missing indicator counted with it."""
        z = self.standardised(x)
        z *= self.coef
        n, m = len(self.columns), len(self.logged)
        out = z[:, :n]
        out[:, self.logged] += z[:, n : n + m]
        out[:, self.flagged] += z[:, n + m :]
        return np.column_stack([out, np.full(len(z), self.intercept)])

    def initial_for(self, preparation: dict, *, columns: list[str], C: float) -> tuple | None:
        """This model's function (its coefficients and intercept) in another preparation's standardised
        columns — where a solver fitting similar rows can start — or None if the two do not line up
        (other columns, strength, logged or flagged columns). Exact but for clipping and imputation."""
        same = (
            list(columns) == self.columns
            and float(C) == self.C
            and np.array_equal(preparation["logged"], self.logged)
            and np.array_equal(preparation["flagged"], self.flagged)
        )
        if not same:
            return None
        # coef · (u − mean) / scale = coef' · (u − mean') / scale' + (intercept' − intercept)
        coef = self.coef * preparation["scale"] / self.scale
        intercept = self.intercept + float(np.sum(self.coef * (preparation["mean"] - self.mean) / self.scale))
        return coef[None, :].copy(), np.array([intercept])

    def document(self) -> dict:
        names = ("median", "mean", "scale", "coef", "flagged", "logged")
        arrays = {k: getattr(self, k).tolist() for k in names}
        return {
            "family": self.family,
            "columns": self.columns,
            "C": self.C,
            "intercept": self.intercept,
            **arrays,
        }

    def artefact(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode()

    @classmethod
    def of(cls, document: dict) -> "Logistic":
        return cls(**{k: v for k, v in document.items() if k != "family"})


CLIP = 20.0  # standardised values beyond this many deviations (an extreme imported amount) are clipped


def _prepared(z: np.ndarray, median, flagged, logged, mean=None, scale=None):
    """``z`` as the model reads it, in a new array (``z`` itself is only read): missing values as
    ``median``, then the ``logged`` columns' signed logs and the ``flagged`` columns' missing indicators
    appended; centred, scaled and clipped when ``mean`` and ``scale`` are given. Each part is written
    into its place in the one result (a fold's 200,000 rows × 400 columns are ~0.6 GB); the only
    temporaries are the missing-value mask (a byte a value) and a copy of the ``logged`` columns."""
    n, p = z.shape
    width = p + len(logged)
    out = np.empty((n, width + len(flagged)), dtype=np.float64)
    body, logs = out[:, :p], out[:, p:width]
    np.copyto(body, z)
    missing = ~np.isfinite(body)
    if missing.any():
        np.copyto(out[:, width:], missing[:, flagged])
        rows, columns = np.nonzero(missing)
        body[rows, columns] = np.asarray(median, dtype=np.float64)[columns]
    else:
        out[:, width:] = 0.0
    del missing
    if len(logged):  # sign(x) · log(1 + |x|) of the imputed values
        values = body[:, logged]
        # Into the strided columns by abs, log1p and copysign only: NumPy 2.4.6's in-place np.negative on
        # a one-column view 8 values wide computes from the wrong elements (seen here, not reported).
        np.abs(values, out=logs)
        np.log1p(logs, out=logs)
        np.copysign(logs, values, out=logs)
    if mean is not None:
        out -= mean
        out /= scale
        np.clip(out, -CLIP, CLIP, out=out)
    return out


def _column_deviations(z: np.ndarray) -> np.ndarray:
    """Each column's root mean square (its standard deviation once centred), summed a block of rows at
    a time: as exact as ``z.std(axis=0)``, without its two matrix-sized temporaries (~25 times faster)."""
    total = np.zeros(z.shape[1], dtype=np.float64)
    for start in range(0, len(z), DEVIATION_BLOCK):
        block = z[start : start + DEVIATION_BLOCK]
        total += (block * block).sum(axis=0)
    return np.sqrt(total / max(len(z), 1))


DEVIATION_BLOCK = 4096  # rows: a block's squares (~13 MB at 400 columns) stay in cache


def _preparation(x, columns: list[str]):
    """The training rows prepared for logistic regression (``Logistic``), and the preparation (in float64,
    as it is stored). Worked in double precision: the Newton solver (``fit_logistic``) factorises the
    Hessian, which single precision leaves ill-conditioned (a collinear column and its log)."""
    z = dense(x, columns, dtype=np.float64)  # only read: _prepared writes a new array
    finite = np.isfinite(z)
    all_finite = finite.all(axis=0)
    with np.errstate(all="ignore"):
        median = np.nanmedian(z if all_finite.all() else np.where(finite, z, np.nan), axis=0)
    median = np.nan_to_num(median, nan=0.0).astype(np.float64)
    flagged = np.flatnonzero(~all_finite & finite.any(axis=0))
    binary = ((z == 0) | (z == 1) | ~finite).all(axis=0)
    del finite
    logged = np.flatnonzero(~binary)
    z = _prepared(z, median, flagged, logged)
    scaled = np.concatenate([~binary, np.ones(len(logged), dtype=bool), np.zeros(len(flagged), dtype=bool)])
    mean = np.where(scaled, z.mean(axis=0, dtype=np.float64), 0.0)
    z -= mean
    scale = np.where(scaled, _column_deviations(z), 1.0)
    scale[scale == 0] = 1.0
    z /= scale
    np.clip(z, -CLIP, CLIP, out=z)
    return z, {"median": median, "flagged": flagged, "logged": logged, "mean": mean, "scale": scale}


# Logistic regression and naive Bayes learn from at most this many rows (a fixed random sample of the
# rest): a few hundred coefficients stop improving long before, and at a million snapshot rows the
# prepared copy alone is ~3 GB and each fit minutes. XGBoost learns from every row.
LINEAR_ROWS = 250_000
WARM_TOL = 1e-5  # a fit started from a previous fold's model (``fit_logistic``'s ``start``)
# The naive Bayes baseline counts each column's bins per class: deciles and counts settle on far fewer rows.
NB_ROWS = 100_000


def sample_rows(n: int, limit: int = LINEAR_ROWS, seed: int = 0) -> np.ndarray | slice:
    """Every row (``slice(None)``), or ``limit`` row positions drawn at random, in order."""
    if n <= limit:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def fit_logistic(
    x, y: np.ndarray, columns: list[str], *, C: float = LOGISTIC_C, weight=None, start: Logistic | None = None
) -> Logistic:
    """L2 logistic regression on ``x`` (a frame with ``columns``, or a matrix in their order; NaN allowed),
    from at most ``LINEAR_ROWS`` of its rows, weighted by ``weight`` if given. ``start``: a model fitted on
    similar rows (the previous backtest fold's) that the solver starts from, when it has the same columns,
    strength and prepared layout — the same optimum, reached in fewer steps."""
    from sklearn.linear_model import LogisticRegression  # heavy: loaded where a model is fitted or read

    rows = sample_rows(len(y))
    if not isinstance(rows, slice):
        x = x.iloc[rows] if isinstance(x, pd.DataFrame) else np.asarray(x)[rows]
        y = np.asarray(y)[rows]
        weight = None if weight is None else np.asarray(weight)[rows]
    z, preparation = _preparation(x, columns)
    # Newton steps with the exact Hessian (a few hundred prepared columns, many rows): converged in about
    # five steps where L-BFGS took ~180 on 200,000 snapshot rows, ~3.5 times faster, as good or better. A
    # Hessian too ill-conditioned to factorise makes scikit-learn go on with L-BFGS for the steps left, so
    # the bound is L-BFGS's. From the previous fold's model, with a tolerance ten times tighter
    # (``WARM_TOL``): on the 100,000-account world's second fold three steps instead of five (5.0 → 2.9 s),
    # and closer to the optimum (every row's log-odds within 1e-4 of a fit to 1e-9, against 0.03 from zero
    # at the default tolerance; two steps at the default stopped 0.01 off on one row in a thousand).
    model = LogisticRegression(C=C, max_iter=2000, solver="newton-cholesky")
    initial = start.initial_for(preparation, columns=columns, C=C) if start is not None else None
    if initial is not None:
        model.set_params(warm_start=True, tol=WARM_TOL)
        model.coef_, model.intercept_ = initial
    model.fit(z, y, sample_weight=weight)
    return Logistic(columns=columns, coef=model.coef_[0], intercept=float(model.intercept_[0]), C=C,
                    **preparation)  # fmt: skip


LOGISTIC_CS = (0.002, 0.01, 0.05, 0.2)
C_CHOICE_ROWS = 100_000  # rows each candidate strength learns from when choosing
STRENGTH_TOL = 1e-5  # each candidate fitted until it tells the strengths apart (Newton: a few steps each)


def logistic_strength(train, validation, columns: list[str]) -> float:
    """The regularisation strength ``C`` (of ``LOGISTIC_CS``) whose fit on ``train`` ranks ``validation``
    best (ROC AUC) — on at most ``C_CHOICE_ROWS`` training rows, prepared once, each fit starting from the
    previous one's coefficients; ``LOGISTIC_C`` when either part has one class."""
    from sklearn.linear_model import LogisticRegression  # heavy: loaded where a model is fitted or read
    from sklearn.metrics import roc_auc_score  # heavy: loaded where a model is fitted or read

    if validation is None or validation["label"].nunique() < 2 or train["label"].nunique() < 2:
        return LOGISTIC_C
    if len(train) > C_CHOICE_ROWS:
        train = train.sample(C_CHOICE_ROWS, random_state=0)
    z, preparation = _preparation(train, columns)
    check = _prepared(dense(validation, columns, dtype=np.float64), preparation["median"],
                      preparation["flagged"], preparation["logged"], preparation["mean"],
                      preparation["scale"])  # fmt: skip
    y, y_check = train["label"].to_numpy(), validation["label"].to_numpy()
    w, w_check = weights_of(train), weights_of(validation)
    # Newton steps, each strength's fit starting from the previous one's coefficients. Not L-BFGS with a
    # loose tolerance: warm-started, it stopped at once for the larger strengths (the gradient at the
    # previous optimum is already under 1e-3 on many rows), which then scored exactly as the smaller one and
    # lost the tie, so the choice was not made by the data.
    model = LogisticRegression(max_iter=2000, warm_start=True, tol=STRENGTH_TOL, solver="newton-cholesky")
    scored = []
    for c in sorted(LOGISTIC_CS):
        model.set_params(C=c).fit(z, y, sample_weight=w)
        scored.append((roc_auc_score(y_check, check @ model.coef_[0], sample_weight=w_check), -c))
    return -max(scored)[1]


# --- the blend -------------------------------------------------------------------------------------------
class Blend(Fitted):
    """XGBoost and logistic regression averaged in log-odds (``weight`` is XGBoost's share)."""

    family = "blend"

    def __init__(self, boosted: Boosted, logistic: Logistic, weight: float = BLEND_WEIGHT):
        self.boosted, self.logistic, self.weight = boosted, logistic, float(weight)
        self.columns = boosted.columns
        self.n_estimators = boosted.n_estimators

    def log_odds(self, x) -> np.ndarray:
        return self.weight * logit(self.boosted.predict(x)) + (1.0 - self.weight) * self.logistic.log_odds(x)

    def contributions(self, x) -> np.ndarray:
        out = self.boosted.contributions(x)
        out *= self.weight
        out += (1.0 - self.weight) * self.logistic.contributions(x)
        return out

    def artefact(self) -> bytes:
        document = {
            "family": self.family,
            "weight": self.weight,
            "xgboost": json.loads(self.boosted.artefact()),
            "logistic_regression": self.logistic.document(),
        }
        return json.dumps(document, separators=(",", ":")).encode()


# --- one registry ----------------------------------------------------------------------------------------
def fit(
    family: str, train: pd.DataFrame, validation: pd.DataFrame | None, columns: list[str], params=None,
    *, start: "Logistic | None" = None,
):  # fmt: skip
    """Fit ``family`` (one of ``CANDIDATES``) on ``train`` (XGBoost stops early on ``validation``, then
    every part learns from both); logistic regression from ``start`` if it lines up (``fit_logistic``)."""
    if family not in CANDIDATES:
        raise ValueError(f"unknown model family {family!r} (one of {', '.join(CANDIDATES)})")
    both = train if validation is None or not len(validation) else pd.concat([train, validation])
    strength = (params or {}).get("C")
    if family != "xgboost" and strength is None:
        strength = LOGISTIC_C if validation is None else logistic_strength(train, validation, columns)
    if family == "logistic_regression":
        return fit_logistic(
            both, both["label"].to_numpy(), columns, C=strength, weight=weights_of(both), start=start
        )
    boosted = fit_xgboost(train, validation, columns, params)
    if family == "xgboost":
        return boosted
    logistic = fit_logistic(
        both, both["label"].to_numpy(), columns, C=strength, weight=weights_of(both), start=start
    )
    return Blend(boosted, logistic, (params or {}).get("blend_weight", BLEND_WEIGHT))


def load(data: bytes, *, columns: list[str], params: dict | None):
    """A stored artefact back as a fitted model of its family (an XGBoost booster's bytes, or a family's
    JSON document)."""
    import xgboost  # heavy: loaded where a model is fitted or read

    data = bytes(data)
    if not data.startswith(FAMILY_KEY):
        booster = xgboost.Booster()
        booster.load_model(bytearray(data))
        return Boosted(loaded(booster), columns=columns, params=params or {})
    document = json.loads(data)
    if document["family"] == "logistic_regression":
        return Logistic.of(document)
    if document["family"] == "blend":
        booster = xgboost.Booster()
        booster.load_model(bytearray(json.dumps(document["xgboost"]).encode()))
        boosted = Boosted(loaded(booster), columns=columns, params=params or {})
        return Blend(boosted, Logistic.of(document["logistic_regression"]), document["weight"])
    raise ValueError(f"unknown model family {document['family']!r} in a stored artefact")


_FITTED: dict[tuple[int, str], object] = {}


def fitted_of(model):
    """A stored version (``ScoringModel``) as its fitted model, loaded once per version and checksum in this
    process, to predict and explain with."""
    key = (model.pk, model.artefact_sha256)
    fitted = _FITTED.get(key)
    if fitted is None:
        if len(_FITTED) > 16:
            _FITTED.clear()
        fitted = _FITTED[key] = load(
            model.artefact_bytes(), columns=list(model.features), params=model.params
        )
    return fitted


# --- baselines -------------------------------------------------------------------------------------------
NB_BLOCK = 8192  # rows counted or scored at a time: a block's codes and gathers stay a few MB


class CountedNB:
    """Categorical naive Bayes over integer codes ``0 … width-1`` in every column, with Laplace smoothing
    (alpha 1) and the classes' weighted shares as priors: scikit-learn's ``CategoricalNB(alpha=1,
    min_categories=width)``, counted for all columns at once (one ``bincount`` per block of rows, where
    scikit-learn masks the rows once per column and class) and scored by one gather per block."""

    def __init__(self, width: int):
        self.width = int(width)

    def fit(self, codes: np.ndarray, y: np.ndarray, weight=None) -> "CountedNB":
        codes, y = np.asarray(codes, dtype=np.int64), np.asarray(y)
        weight = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
        if codes.size and (codes.min() < 0 or codes.max() >= self.width):
            raise ValueError(f"codes must lie in 0 … {self.width - 1}")
        self.classes = np.unique(y)
        if len(self.classes) != 2:
            raise ValueError("naive Bayes needs rows of both classes")
        columns = codes.shape[1]
        offsets = np.arange(columns, dtype=np.int64) * self.width
        counts = np.zeros((2, columns * self.width))
        for k, label in enumerate(self.classes):
            rows = np.flatnonzero(y == label)
            for start in range(0, len(rows), NB_BLOCK):
                part = rows[start : start + NB_BLOCK]
                counts[k] += np.bincount(
                    (codes[part] + offsets).ravel(),
                    weights=np.repeat(weight[part], columns),
                    minlength=columns * self.width,
                )
        counts = counts.reshape(2, columns, self.width) + 1.0
        self.log_prob = np.log(counts) - np.log(counts.sum(axis=2, keepdims=True))  # (class, column, code)
        totals = np.array([weight[y == label].sum() for label in self.classes])
        self.log_prior = np.log(totals) - np.log(totals.sum())
        return self

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Each row's probability of each class (in ``classes`` order), as scikit-learn's."""
        codes = np.asarray(codes, dtype=np.int64)
        columns = codes.shape[1]
        if codes.size and (codes.min() < 0 or codes.max() >= self.width):
            raise ValueError(f"codes must lie in 0 … {self.width - 1}")
        offsets = np.arange(columns, dtype=np.int64) * self.width
        tables = self.log_prob.reshape(2, -1)
        joint = np.empty((len(codes), 2))
        for start in range(0, len(codes), NB_BLOCK):
            index = codes[start : start + NB_BLOCK] + offsets
            for k in range(2):
                joint[start : start + NB_BLOCK, k] = np.take(tables[k], index).sum(axis=1)
        joint += self.log_prior
        joint -= np.logaddexp(joint[:, 0], joint[:, 1])[:, None]
        return np.exp(joint)


class BinnedNB:
    """Categorical naive Bayes on binned columns (missing is a bin of its own). ``binning``:

    * ``deciles`` — each column cut at its training deciles (ties collapse bins);
    * ``two`` — a 0/1 column as it is, a count that is mostly zero present or not, anything else above
      its training median or not: coarser, so that hundreds of correlated counts overstate the evidence
      less.
    """

    def __init__(self, binning: str = "deciles"):
        if binning not in ("deciles", "two"):
            raise ValueError(f"unknown binning {binning!r}")
        self.binning = binning

    def fit(self, x: np.ndarray, y: np.ndarray, weight=None) -> "BinnedNB":
        """Fit on ``x`` (at most ``NB_ROWS`` of its rows), weighted by ``weight`` if given."""
        rows = sample_rows(len(y), NB_ROWS)
        x, y = np.asarray(x, dtype=np.float64)[rows], np.asarray(y)[rows]
        weight = None if weight is None else np.asarray(weight, dtype=np.float64)[rows]
        self.edges = []
        for j in range(x.shape[1]):
            column = x[:, j]
            present = column[np.isfinite(column)]
            if not len(present):
                edges = np.zeros(0)
            elif self.binning == "deciles":
                edges = np.quantile(present, np.linspace(0, 1, NB_BINS + 1)[1:-1])
            else:  # a flag, or a count that is mostly zero: present or not; anything else: above its median
                median = float(np.median(present))
                edges = (
                    np.zeros(1)
                    if (present.min() >= 0 and median == 0) or np.isin(present, (0, 1)).all()
                    else np.array([median])
                )
            self.edges.append(np.unique(edges))
        self.model = CountedNB(NB_BINS + 1).fit(self._codes(x), y, weight)
        return self

    def _codes(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        codes = np.empty(x.shape, dtype=np.int64)
        for j, edges in enumerate(self.edges):
            column = x[:, j]
            codes[:, j] = np.where(np.isfinite(column), np.searchsorted(edges, column, side="right"), NB_BINS)
        return codes

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self._codes(x))


def naive_bayes_binning(train: pd.DataFrame, validation: pd.DataFrame | None, columns: list[str]) -> str:
    """The binning (``BinnedNB``) an analyst would settle on: the one whose fit on ``train`` (at most
    ``C_CHOICE_ROWS`` of it) ranks ``validation`` best; deciles when the parts cannot tell."""
    from sklearn.metrics import roc_auc_score  # heavy: loaded where a model is fitted or read

    if validation is None or validation["label"].nunique() < 2 or train["label"].nunique() < 2:
        return "deciles"
    if len(train) > C_CHOICE_ROWS:
        train = train.sample(C_CHOICE_ROWS, random_state=0)
    x_train, y_train = train[columns].to_numpy(dtype=np.float64), train["label"].to_numpy()
    x_check, y_check = validation[columns].to_numpy(dtype=np.float64), validation["label"].to_numpy()
    w, w_check = weights_of(train), weights_of(validation)
    scored = [(roc_auc_score(y_check, BinnedNB(b).fit(x_train, y_train, w).predict_proba(x_check)[:, 1],
                             sample_weight=w_check), b) for b in ("deciles", "two")]  # fmt: skip
    return max(scored)[1]


def categorical_nb(train: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Categorical naive Bayes on integer-coded attributes (``-1`` = missing, its own category): the
    probability of the positive class for each ``test`` row."""
    train, test = np.asarray(train) + 1, np.asarray(test) + 1  # codes from 0, missing first
    width = int(max(train.max(initial=0), test.max(initial=0))) + 1
    return CountedNB(width).fit(train, y).predict_proba(test)[:, 1]
