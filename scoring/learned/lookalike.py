"""Look-alike fit models: how much an account, or a person, looks like those that bought before.

* **Account profile fit** (kind ``account_fit``): XGBoost on firmographics and technographics only
  (industry, size, revenue, age, country, technologies — the columns ``features.py`` computes, with the
  same names), label = the account opened an opportunity, ever, up to ``as_of``.
* **Contact profile fit** (kind ``persona_fit``): XGBoost on a person's persona, seniority,
  department, department × seniority and the most frequent title words; label = the person was on a
  past buying team: a contact at an account that opened an opportunity who engaged (any
  ``ContactActivityDaily`` row at that account) in the 90 days before the opportunity was created.
  Negatives are the other contacts of those accounts and the contacts with no account (job seekers,
  students, free-mail sign-ups: never on a buying team). Only opportunities whose 90-day window lies
  inside the activity data count ("observable"); accounts with none are left out of training.
* **Engagement compared with previous buyers**: the persona model also stores (``params``) 101
  quantiles of buying-team members' activity count over the 90 days before their opportunity; a
  contact's score is the percentile of its own 90-day activity count in that distribution.

Both models are cross-validated (stratified K-fold, pooled out-of-fold predictions) against logistic
regression and naive Bayes with ``backtest.metrics`` and registered through ``registry.model_register``.
Above ``MAX_TRAIN_ROWS`` they learn from a stratified sample; their scale is computed on everyone.

Scales (what the numbers mean):
* ``account_fit_predict`` → 0..1: the share of the accounts the model was trained on whose predicted
  probability of having opened an opportunity is below this account's (ties count half) — 0.9 looks
  more like a past buyer than 90% of accounts. The typical past buyer scores high (the report's
  ``scale`` section gives the median score of past buyers and of the others).
* ``persona_fit`` → 0..100: the same percentile for people, among the contacts trained on.
* ``engagement_vs_buyers`` → 0..100: percentile (ties count half) of the contact's activity count in
  the 90 days up to ``as_of`` among buying-team members' counts in the 90 days before their
  opportunity; no activity scores 0, a count above every member's scores 100.

Attributes (firmographics, technologies, titles, personas) are read as they are now, like
``features.py``; opportunities and activity are bounded by ``as_of``.
"""

import datetime
import re
import time
from collections import Counter

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone
from sklearn.model_selection import StratifiedKFold, train_test_split

from accounts.choices import Department, Seniority
from accounts.models import Account, Contact, ContactActivityDaily, Opportunity, Persona
from revops.bulk import frame_read, ids_condition, is_postgres, rows_frame, table_sql
from revops.instruments import MODEL_SCORED
from scoring.choices import ScoringModelKind
from scoring.learned import backtest as B
from scoring.learned import decisions as D
from scoring.learned import families
from scoring.learned import features as F
from scoring.learned import registry as R
from scoring.learned.progress import as_progress
from scoring.learned.words import slug
from scoring.models import ContactModelScore, DemoGroundTruth, ScoringModel
from scoring.store import changed_mask, derived_data_commit, id_bounds, insert_or_upsert, stored_read, today

FOLDS = 5
QUANTILES = 101
TEAM_WINDOW_DAYS = 90  # engagement before an opportunity that makes a contact a buying-team member
TITLE_TOKENS = 40
MIN_COMBO = 10  # department × seniority pairs seen at least this often become a feature
CV_MODELS = (*families.CANDIDATES, "plain_xgboost", "naive_bayes")
# Fewer rows than the in-market snapshots: a little less column subsampling, smaller leaves, and one
# thread — on a few thousand rows OpenMP threads mostly wait for each other (40 times slower measured
# on a busy 2-core machine).
FIT_PARAMS = {"colsample_bytree": 0.8, "min_child_weight": 5, "n_jobs": 1, "learning_rate": 0.1}
# Above this many rows, models learn from a stratified sample (the scale still covers everyone): a few
# dozen categorical or firmographic columns need no more, and training stays under a minute.
MAX_TRAIN_ROWS = 50_000
SMALL_FOREST = 100  # trees when a class is too rare to stop early on held-out rows
CV_THREADS = 2  # cross-validation folds fitted at a time (each XGBoost on one thread: FIT_PARAMS)
ACCOUNT_FIT_COLUMNS = ("log_employees", "log_revenue", "company_age", "technologies")
ACCOUNT_FIT_PREFIXES = ("industry__", "country__", "tech__")
STOP_WORDS = frozenset({"of", "and", "the", "for", "to", "in", "at", "a", "an", "on", "with"})
SCORE_FIELDS = ["model_id", "persona_fit", "engagement_vs_buyers"]


# --- shared: scales and cross-validation -----------------------------------------------------------------
def quantiles_of(values: np.ndarray) -> list[float]:
    """101 quantiles (0th … 100th percentile) of ``values``, as stored in a model's ``params``."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return []
    return [float(v) for v in np.quantile(values, np.linspace(0.0, 1.0, QUANTILES))]


def percentile_in(values, quantiles) -> np.ndarray:
    """Where ``values`` fall among stored ``quantiles``, 0..1: the share of quantile points below each
    value, ties counting half (so a value equal to every point scores 0.5, above all 1, below all 0)."""
    q = np.asarray(quantiles, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if not len(q):
        return np.zeros(len(values))
    left = np.searchsorted(q, values, side="left")
    right = np.searchsorted(q, values, side="right")
    return (left + right) / (2.0 * len(q))


def _cv_fold(frame, columns, y, train_rows, test_rows, *, params, seed, categories) -> dict:
    """One fold of ``cross_validate``: every model fitted on ``train_rows`` and scored on ``test_rows``
    (its scores by model, the trees XGBoost chose, the logistic strength)."""
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    if min(int(train["label"].sum()), int((train["label"] == 0).sum())) >= 5:
        fit_part, validation = train_test_split(
            train, test_size=0.2, stratify=train["label"], random_state=seed
        )
        xgb = families.fit_xgboost(fit_part, validation, columns, params)
        strength = families.logistic_strength(fit_part, validation, columns)
    else:  # too few of a class to hold some out for early stopping: a fixed, small forest
        xgb = families.fit_xgboost(train, None, columns, {**params, "n_estimators": SMALL_FOREST})
        strength = families.LOGISTIC_C
    y_train = y[train_rows]
    x_train, x_test = train[columns].to_numpy(dtype=np.float64), test[columns].to_numpy(dtype=np.float64)
    logistic = families.fit_logistic(x_train, y_train, columns, C=strength)
    p, z = xgb.predict(x_test), logistic.log_odds(x_test)
    if categories is None:
        nb = families.BinnedNB().fit(x_train, y_train).predict_proba(x_test)[:, 1]
    else:
        nb = families.categorical_nb(categories[train_rows], y_train, categories[test_rows])
    w = families.BLEND_WEIGHT
    scores = {
        "xgboost": p,
        "logistic_regression": families.sigmoid(z),
        "blend": families.sigmoid(w * families.logit(p) + (1.0 - w) * z),
        "plain_xgboost": families.fit_plain_xgboost(x_train, y_train, columns).predict(x_test),
        "naive_bayes": nb,
    }
    return {"scores": scores, "trees": int(xgb.n_estimators), "strength": strength}


def cross_validate(
    frame: pd.DataFrame,
    columns: list[str],
    *,
    folds: int = FOLDS,
    params: dict | None = None,
    seed: int = 0,
    progress=None,
    categories: np.ndarray | None = None,
) -> tuple[dict, int]:
    """Stratified K-fold: every candidate family (XGBoost stopping early on a slice of each training part,
    logistic regression, their blend) and the baselines (XGBoost's defaults, naive Bayes), each scored on
    the same held-out rows; metrics pooled over the out-of-fold predictions and per fold, and the
    champion family with its bootstrap differences. ``categories`` (integer codes, one column per source
    attribute) gives naive Bayes the attributes themselves instead of the encoded features. Returns the
    report and the number of trees for a final fit."""
    tracker = as_progress(progress)  # each fold is a fine step (the job's bar), not a line of its own
    params = {**FIT_PARAMS, **(params or {})}
    columns, dropped = B.columns_usable(frame, columns)
    frame = frame.reset_index(drop=True)
    y = frame["label"].to_numpy(dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    parts = list(splitter.split(np.zeros(len(y)), y))
    out_of_fold = {m: np.zeros(len(frame)) for m in CV_MODELS}
    folds_out, trees, strengths = [], [], []

    def one(k: int) -> dict:
        train_rows, test_rows = parts[k]
        return _cv_fold(frame, columns, y, train_rows, test_rows, params=params, seed=seed + k,
                        categories=categories)  # fmt: skip

    # The folds are independent: CV_THREADS of them at a time, each on one core (``one_core_each``;
    # XGBoost's FIT_PARAMS are one thread), the results taken in fold order, so the report is the same
    # whatever the threads. The 100,000-account world's 50,000-row account-fit sample: 14.3–16.7 s a fold
    # after another, 10.7–12.6 s two at a time (12.8 s with two BLAS threads in each).
    tracker.advance(0, folds, f"cross-validation fold 1 of {folds} …")
    with families.one_core_each(min(CV_THREADS, len(parts))) as pool:
        for k, fold in enumerate(pool.map(one, range(len(parts)))):
            following = f"cross-validation fold {k + 2} of {folds} …" if k + 2 <= folds else "cross-validated"
            tracker.advance(k + 1, folds, following)
            strengths.append(fold["strength"])
            trees.append(fold["trees"])
            test_rows = parts[k][1]
            for name, score in fold["scores"].items():
                out_of_fold[name][test_rows] = score
            folds_out.append(
                {
                    "fold": k + 1,
                    "train_rows": len(parts[k][0]),
                    "test_rows": len(test_rows),
                    "trees": fold["trees"],
                    "models": {
                        m: B.metrics(y[test_rows], s, curves=False) for m, s in fold["scores"].items()
                    },
                }
            )
    models = {m: B.metrics(y, out_of_fold[m]) for m in CV_MODELS}
    report = {
        "validation": "cross_validation",
        "folds_count": folds,
        "rows": len(frame),
        "positives": int(y.sum()),
        "features": list(columns),
        "dropped_features": dropped,
        "folds": folds_out,
        "models": models,
        "candidates": list(families.CANDIDATES),
        "baselines": ["plain_xgboost", "naive_bayes"],
        "champion": B.champion_choose(models, y, out_of_fold, np.arange(len(frame))),
        "logistic_c": max(set(strengths), key=lambda c: (strengths.count(c), c)) if strengths else None,
        "leakage_warnings": B.leakage_warnings(frame, columns),
        "notes": {
            "validation": f"stratified {folds}-fold cross-validation, metrics over out-of-fold predictions",
            **{k: v for k, v in B.REPORT_NOTES.items() if k in CV_MODELS or k == "champion"},
            "plain_xgboost": "XGBoost with the library's defaults on the same columns",
        },
    }
    if categories is not None:
        report["notes"]["naive_bayes"] = (
            "categorical naive Bayes on the attributes themselves (numbers binned by deciles)"
        )
    return report, int(np.median(trees)) if trees else int(families.XGB_PARAMS["n_estimators"])


def champion_family(report: dict) -> str:
    """The family the report's cross-validation chose (XGBoost when it chose none)."""
    return (report.get("champion") or {}).get("family", "xgboost")


def final_params(report: dict, params: dict | None) -> dict:
    """``params`` with the regularisation strength the folds chose for logistic regression."""
    return {**(params or {}), **({"C": report["logistic_c"]} if report.get("logistic_c") else {})}


def fit_final(
    frame: pd.DataFrame,
    columns: list[str],
    *,
    trees: int,
    params: dict | None = None,
    family: str = "xgboost",
):
    """The ``family`` model on every row (XGBoost with the number of trees the folds chose), and the
    parameters to store with it."""
    params = {**FIT_PARAMS, **(params or {}), "n_estimators": max(1, int(trees))}
    return families.fit(family, frame, None, columns, params), {
        **families.XGB_PARAMS,
        **params,
        "family": family,
    }


def training_sample(frame: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """``frame`` itself, or a stratified sample of ``limit`` (default ``MAX_TRAIN_ROWS``) of its rows."""
    limit = limit or MAX_TRAIN_ROWS
    if len(frame) <= limit:
        return frame
    sample, _ = train_test_split(frame, train_size=limit, stratify=frame["label"], random_state=0)
    return sample.sort_index()


def _check_classes(y: np.ndarray, folds: int, what: str) -> None:
    positives, n = int(np.sum(y)), len(y)
    if min(positives, n - positives) < max(folds, 2):
        raise R.RegistryError(
            f"not enough data to train {what}: {positives} positive and {n - positives} negative examples "
            f"(need at least {max(folds, 2)} of each)"
        )


def _predict(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """Probabilities from the stored version, the frame's columns aligned to ``model.features``."""
    if not len(frame):
        return np.zeros(0)
    return families.fitted_of(model).predict(frame)


# --- account profile fit ---------------------------------------------------------------------------------
def account_fit_columns(columns) -> list[str]:
    """The firmographic and technographic columns among ``columns`` (of this module's frame or of
    ``features.account_features``' — the names are the same)."""
    return [c for c in columns if c in ACCOUNT_FIT_COLUMNS or c.startswith(ACCOUNT_FIT_PREFIXES)]


def account_fit_frame(*, as_of: datetime.date, account_ids=None) -> pd.DataFrame:
    """Firmographics and technographics of accounts (all, an id ``range`` or a list), indexed by
    ``account_id``, with the column names and formulas of ``features.account_features`` but without
    reading any activity."""
    ids = F.ids_normal(account_ids)
    a_clause, a_params = ids_condition("a.id", ids)
    accounts = rows_frame(
        f"SELECT a.id, a.industry, a.employee_count, a.annual_revenue, a.founded_year, a.country "
        f"FROM {table_sql(Account)} a WHERE {a_clause} ORDER BY a.id",
        a_params,
        ["account_id", "industry", "employee_count", "annual_revenue", "founded_year", "country"],
    )
    through = Account.technologies.through
    t_clause, t_params = ids_condition("x.account_id", ids)
    techs = rows_frame(
        f"SELECT x.account_id, t.name FROM {table_sql(through)} x "
        f"JOIN accounts_technology t ON t.id = x.technology_id WHERE {t_clause}",
        t_params,
        ["account_id", "technology"],
    )
    index = pd.Index(accounts["account_id"].to_numpy(dtype=np.int64), name="account_id")
    cols: dict[str, np.ndarray] = {}
    employees = pd.to_numeric(accounts["employee_count"], errors="coerce").to_numpy(dtype=float)
    revenue = pd.to_numeric(accounts["annual_revenue"].astype(object), errors="coerce").to_numpy(dtype=float)
    founded = pd.to_numeric(accounts["founded_year"], errors="coerce").to_numpy(dtype=float)
    cols["log_employees"] = np.log1p(employees)
    cols["log_revenue"] = np.log1p(revenue)
    cols["company_age"] = as_of.year - founded
    for column in ("industry", "country"):
        values = accounts[column].astype(object).fillna("").to_numpy(dtype=object)
        for value in sorted(set(values.tolist())):
            cols[f"{column}__{slug(value)}"] = (values == value).astype(float)
    techs = techs[techs["account_id"].isin(index)]
    counts = techs.groupby("account_id").size()
    cols["technologies"] = counts.reindex(index, fill_value=0).to_numpy(dtype=float)
    for name, group in techs.groupby("technology"):
        cols[f"tech__{slug(name)}"] = index.isin(group["account_id"].to_numpy()).astype(float)
    return pd.DataFrame(cols, index=index).astype("float64")


def account_buyers(*, as_of: datetime.date) -> set[int]:
    """Accounts that opened an opportunity (created on or before ``as_of``)."""
    rows = rows_frame(
        f"SELECT DISTINCT o.account_id FROM {table_sql(Opportunity)} o "
        f"WHERE o.account_id IS NOT NULL AND o.created_date IS NOT NULL AND o.created_date <= %s",
        [as_of],
        ["account_id"],
    )
    return set(rows["account_id"].astype(int).tolist())


def train_account_fit(
    *,
    as_of: datetime.date | None = None,
    user=None,
    margin: float = 0.005,
    folds: int = FOLDS,
    params: dict | None = None,
    progress=None,
) -> ScoringModel:
    """Train, cross-validate and register an account profile fit (look-alike) model."""
    say = as_progress(progress)
    started = time.monotonic()
    as_of = as_of or B.data_end()
    frame = account_fit_frame(as_of=as_of)
    excluded = set(D.excluded_columns(ScoringModelKind.ACCOUNT_FIT))
    columns = [c for c in account_fit_columns(frame.columns) if c not in excluded]
    buyers = account_buyers(as_of=as_of)
    frame = frame.reset_index()
    frame["label"] = frame["account_id"].isin(buyers).astype(np.int64)
    _check_classes(frame["label"].to_numpy(), folds, "the account fit model")
    say(f"account fit: {len(frame):,} accounts, {int(frame['label'].sum()):,} opened an opportunity")
    sample = training_sample(frame)
    report, trees = cross_validate(sample, columns, folds=folds, params=params, progress=say)
    columns = report["features"]  # without the columns no row tells anything about (the report says why)
    report["population"] = len(frame)
    truth = _ground_truth_fit(sample["account_id"])
    if truth is not None:
        report["models"]["ground_truth"] = B.metrics(sample["label"].to_numpy(), truth, probability=False)
        report["notes"]["ground_truth"] = (
            "the demo generator's latent ICP fit of each account (demo data only): a reference for what "
            "firmographics can explain, not a probability; not cross-validated (nothing is learnt)"
        )
    model, used = fit_final(
        sample, columns, trees=trees, params=final_params(report, params), family=champion_family(report)
    )
    probability = model.predict_proba(frame[columns])[:, 1]  # the scale covers every account
    quantiles = quantiles_of(probability)
    fit = percentile_in(probability, quantiles)
    label = frame["label"].to_numpy() == 1
    report.update(
        kind=ScoringModelKind.ACCOUNT_FIT.value,
        as_of=as_of.isoformat(),
        label="opened an opportunity (created on or before as_of)",
        scale={
            "meaning": "share of training accounts with a lower predicted probability (ties half), 0..1",
            "median_buyer": round(float(np.median(fit[label])), 4),
            "median_other": round(float(np.median(fit[~label])), 4),
        },
        seconds=round(time.monotonic() - started, 2),
    )
    first = _first_opportunity()
    return R.model_register(
        kind=ScoringModelKind.ACCOUNT_FIT.value,
        artefact=R.artefact_bytes(model),
        features=columns,
        params={**used, "score_quantiles": quantiles, "folds": folds},
        metrics=report,
        train_start=min(first, as_of) if first else None,
        train_end=as_of,
        horizon_days=0,  # no horizon: "ever opened one, up to as_of"
        user=user,
        margin=margin,
    )


def account_fit_predict(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """Account profile fit, 0..1, for each row of ``frame`` (in its order): the share of the accounts
    the model was trained on whose predicted probability of having opened an opportunity is below this
    account's, ties counting half — 0.9 looks more like a past buyer than 90% of accounts, and the
    typical past buyer scores high. ``frame`` is ``account_fit_frame``'s or
    ``features.account_features``' (any frame with the same column names): its columns are aligned to
    ``model.features``, missing ones count as 0."""
    probability = _predict(model, frame)
    return percentile_in(probability, (model.params or {}).get("score_quantiles", []))


def _ground_truth_fit(account_ids: pd.Series) -> np.ndarray | None:
    """The demo generator's latent fit of each account, when every account has one (demo data)."""

    rows = rows_frame(
        f"SELECT account_id, AVG(fit) FROM {table_sql(DemoGroundTruth)} GROUP BY account_id",
        [],
        ["account_id", "fit"],
    )
    if rows.empty:
        return None
    fit = rows.set_index("account_id")["fit"].astype(float).reindex(account_ids.to_numpy())
    return None if fit.isna().any() else fit.to_numpy()


def _first_opportunity() -> datetime.date | None:
    rows = rows_frame(f"SELECT MIN(created_date) FROM {table_sql(Opportunity)}", [], ["d"])
    value = rows["d"].iloc[0] if len(rows) else None
    if value is None or pd.isna(value):
        return None
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


# --- contact profile fit (persona) -----------------------------------------------------------------------
def _minus_days(column: str, days: int) -> str:
    """``column`` (a DATE) minus ``days`` days, in SQL, still comparable with an indexed date column."""
    if is_postgres():
        return f"({column} - {int(days)})"
    return f"date({column}, '-{int(days)} days')"


def _activity_start() -> datetime.date | None:
    value = rows_frame(f"SELECT MIN(day) FROM {table_sql(ContactActivityDaily)}", [], ["d"])["d"].iloc[0]
    if value is None or pd.isna(value):
        return None
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def buying_team_engagement(*, as_of: datetime.date, observable_from: datetime.date) -> pd.DataFrame:
    """One row per (contact, opportunity): the contact's activity count at the opportunity's account in
    the 90 days before it was created, for opportunities created in ``[observable_from, as_of]``."""
    sql = f"""
        SELECT r.contact_id, o.id, o.account_id, SUM(r.count)
        FROM {table_sql(Opportunity)} o
        JOIN {table_sql(ContactActivityDaily)} r ON r.account_id = o.account_id
        WHERE o.created_date IS NOT NULL AND o.created_date <= %s AND o.created_date >= %s
          AND r.day >= {_minus_days("o.created_date", TEAM_WINDOW_DAYS)} AND r.day < o.created_date
        GROUP BY r.contact_id, o.id, o.account_id
    """
    frame = rows_frame(
        sql, [as_of, observable_from], ["contact_id", "opportunity_id", "account_id", "engagement"]
    )
    return frame.astype({"contact_id": np.int64, "account_id": np.int64, "engagement": np.float64})


def _contacts(where: str, params: list) -> pd.DataFrame:
    return rows_frame(
        f"SELECT c.id, c.account_id, p.name, c.seniority, c.department, c.title "
        f"FROM {table_sql(Contact)} c LEFT JOIN {table_sql(Persona)} p ON p.id = c.persona_id "
        f"WHERE {where} ORDER BY c.id",
        params,
        ["contact_id", "account_id", "persona", "seniority", "department", "title"],
    )


def title_tokens(title) -> list[str]:
    """Lower-case words of a job title, without stop words: "Head of RevOps" → ["head", "revops"]."""
    return [
        w for w in re.findall(r"[a-z0-9]+", str(title or "").lower()) if len(w) > 1 and w not in STOP_WORDS
    ]


def persona_spec(contacts: pd.DataFrame) -> dict:
    """What the persona features are, learnt from the training population (stored in ``params``)."""
    titles = contacts["title"].astype(object).fillna("")
    per_title = titles.value_counts()
    counts: Counter = Counter()
    for title, n in per_title.items():
        for token in set(title_tokens(title)):
            counts[token] += int(n)
    tokens = [t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 5][:TITLE_TOKENS]
    pairs = contacts.groupby(["department", "seniority"]).size()
    combos = sorted([list(map(str, k)) for k, n in pairs.items() if n >= MIN_COMBO])
    personas = sorted({str(p) for p in contacts["persona"].dropna().tolist()})
    return {
        "personas": personas,
        "seniorities": list(Seniority.values),
        "departments": list(Department.values),
        "combos": combos,
        "tokens": tokens,
    }


def persona_profiles(contacts: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Persona features (one-hot persona, seniority, department, department × seniority, title words)
    of each distinct profile (persona, seniority, department, title) among ``contacts``, and each
    contact's profile number: a million contacts are a few thousand profiles."""
    keys = ["persona", "seniority", "department", "title"]
    profiles = contacts[keys].astype(object).fillna("")
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(profiles))
    unique = pd.DataFrame(list(uniques), columns=keys) if len(uniques) else pd.DataFrame(columns=keys)
    persona = unique["persona"].to_numpy(dtype=object)
    seniority = unique["seniority"].to_numpy(dtype=object)
    department = unique["department"].to_numpy(dtype=object)
    cols: dict[str, np.ndarray] = {}
    for name in spec["personas"]:
        cols[f"persona__{slug(name)}"] = (persona == name).astype(float)
    cols["persona__none"] = (persona == "").astype(float)
    for value in spec["seniorities"]:
        cols[f"seniority__{value}"] = (seniority == value).astype(float)
    for value in spec["departments"]:
        cols[f"department__{value}"] = (department == value).astype(float)
    for d, s in spec["combos"]:
        cols[f"dept_seniority__{d}__{s}"] = ((department == d) & (seniority == s)).astype(float)
    words = [set(title_tokens(t)) for t in unique["title"].tolist()]
    for token in spec["tokens"]:
        cols[f"title__{token}"] = np.fromiter((token in w for w in words), dtype=float, count=len(words))
    cols["title__blank"] = np.fromiter((not w for w in words), dtype=float, count=len(words))
    return pd.DataFrame(cols, index=pd.RangeIndex(len(unique))), codes


def persona_frame(contacts: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """``persona_profiles`` spread back to one row per contact (same index as ``contacts``)."""
    by_profile, codes = persona_profiles(contacts, spec)
    out = by_profile.iloc[codes].reset_index(drop=True)
    out.index = contacts.index
    return out


def train_persona_fit(
    *,
    as_of: datetime.date | None = None,
    user=None,
    margin: float = 0.005,
    folds: int = FOLDS,
    params: dict | None = None,
    progress=None,
) -> ScoringModel:
    """Train, cross-validate and register a persona (contact profile) fit model, with the buying-team
    engagement distribution that ``engagement_vs_buyers`` compares against."""
    say = as_progress(progress)
    started = time.monotonic()
    as_of = as_of or B.data_end()
    first_day = _activity_start()
    if first_day is None:
        raise R.RegistryError("no contact activity: nobody can be seen on a buying team")
    observable_from = first_day + datetime.timedelta(days=TEAM_WINDOW_DAYS)
    team = buying_team_engagement(as_of=as_of, observable_from=observable_from)
    buying_accounts = sorted(
        set(
            rows_frame(
                f"SELECT DISTINCT o.account_id FROM {table_sql(Opportunity)} o "
                f"WHERE o.account_id IS NOT NULL AND o.created_date IS NOT NULL "
                f"AND o.created_date <= %s AND o.created_date >= %s",
                [as_of, observable_from],
                ["account_id"],
            )["account_id"].astype(int)
        )
    )
    if not buying_accounts:
        raise R.RegistryError(
            f"no opportunity created between {observable_from} and {as_of}: no buying team to learn from"
        )
    # Contacts of the buying accounts and contacts with no account (chunks of ids keep the SQL short).
    parts = [_contacts("c.account_id IS NULL", [])]
    for start in range(0, len(buying_accounts), 5000):
        clause, clause_params = ids_condition("c.account_id", buying_accounts[start : start + 5000])
        parts.append(_contacts(clause, clause_params))
    contacts = pd.concat(parts, ignore_index=True).sort_values("contact_id", ignore_index=True)
    contacts["label"] = contacts["contact_id"].isin(team["contact_id"]).astype(np.int64)
    _check_classes(contacts["label"].to_numpy(), folds, "the persona fit model")
    say(
        f"persona fit: {len(contacts):,} contacts, {int(contacts['label'].sum()):,} on a buying team "
        f"of {len(buying_accounts):,} accounts"
    )
    spec = persona_spec(contacts)
    sample = training_sample(contacts)
    frame = persona_frame(sample, spec)
    excluded = set(D.excluded_columns(ScoringModelKind.PERSONA_FIT))
    columns = [c for c in frame.columns if c not in excluded]
    frame["label"] = sample["label"].to_numpy()
    report, trees = cross_validate(frame, columns, folds=folds, params=params, progress=say)
    columns = report["features"]
    report["population"] = len(contacts)
    model, used = fit_final(
        frame, columns, trees=trees, params=final_params(report, params), family=champion_family(report)
    )
    # The scale covers every contact trained on, predicted once per distinct profile.
    by_profile, codes = persona_profiles(contacts, spec)
    probability = model.predict_proba(by_profile[columns])[:, 1][codes]
    quantiles = quantiles_of(probability)
    fit = percentile_in(probability, quantiles)
    label = contacts["label"].to_numpy() == 1
    engagement = quantiles_of(team["engagement"].to_numpy())
    report.update(
        kind=ScoringModelKind.PERSONA_FIT.value,
        as_of=as_of.isoformat(),
        label=(
            f"engaged at the account in the {TEAM_WINDOW_DAYS} days before one of its opportunities was "
            f"created (opportunities created {observable_from} … {as_of})"
        ),
        buying_accounts=len(buying_accounts),
        scale={
            "meaning": "share of training contacts with a lower predicted probability (ties half), 0..100",
            "median_member": round(100 * float(np.median(fit[label])), 2),
            "median_other": round(100 * float(np.median(fit[~label])), 2),
        },
        buyer_engagement={
            "pairs": len(team),
            "median": float(np.median(team["engagement"])) if len(team) else None,
            "quantiles": engagement,
        },
        seconds=round(time.monotonic() - started, 2),
    )
    return R.model_register(
        kind=ScoringModelKind.PERSONA_FIT.value,
        artefact=R.artefact_bytes(model),
        features=columns,
        params={
            **used,
            "folds": folds,
            "spec": spec,
            "score_quantiles": quantiles,
            "engagement_quantiles": engagement,
            "engagement_window_days": TEAM_WINDOW_DAYS,
        },
        metrics=report,
        train_start=observable_from,
        train_end=as_of,
        horizon_days=TEAM_WINDOW_DAYS,
        user=user,
        margin=margin,
    )


def persona_fit_predict(model: ScoringModel, contacts: pd.DataFrame) -> np.ndarray:
    """Persona fit, 0..100, of ``contacts`` (columns persona, seniority, department, title)."""
    params = model.params or {}
    # Predict once per distinct profile: people with the same attributes score the same.
    by_profile, codes = persona_profiles(contacts, params["spec"])
    probability = _predict(model, by_profile)
    return 100.0 * percentile_in(probability, params.get("score_quantiles", []))[codes]


def engagement_vs_buyers(model: ScoringModel, counts) -> np.ndarray:
    """0..100: percentile of 90-day activity ``counts`` among past buying-team members' (see module)."""
    counts = np.asarray(counts, dtype=np.float64)
    scores = 100.0 * percentile_in(counts, (model.params or {}).get("engagement_quantiles", []))
    return np.where(counts > 0, scores, 0.0)


# --- scoring contacts ------------------------------------------------------------------------------------
CHUNK_KINDS = {
    "contact_id": "int", "persona": "text", "seniority": "text", "department": "text", "title": "text",
    "engagement": "float",
}  # fmt: skip


def _chunk_contacts(low: int, high: int, as_of: datetime.date, days: int) -> pd.DataFrame:
    """Contacts with ``low <= id < high`` and their activity count in the ``days`` up to ``as_of``
    (summed in SQL): one query."""
    sql = f"""
        SELECT c.id, p.name, c.seniority, c.department, c.title, COALESCE(s.n, 0)
        FROM {table_sql(Contact)} c
        LEFT JOIN {table_sql(Persona)} p ON p.id = c.persona_id
        LEFT JOIN (
            SELECT r.contact_id, SUM(r.count) AS n FROM {table_sql(ContactActivityDaily)} r
            WHERE r.contact_id >= %s AND r.contact_id < %s AND r.day > %s AND r.day <= %s
            GROUP BY r.contact_id
        ) s ON s.contact_id = c.id
        WHERE c.id >= %s AND c.id < %s
        ORDER BY c.id
    """
    params = [low, high, as_of - datetime.timedelta(days=days), as_of, low, high]
    frame = frame_read(sql, params, CHUNK_KINDS)
    return frame.astype({"contact_id": np.int64, "engagement": np.float64})


def contacts_chunk_score(
    *, low: int, high: int, as_of: datetime.date, now: datetime.datetime, model: ScoringModel | None = None
) -> dict:
    """Persona fit and engagement compared with previous buyers of contacts with ``low <= id < high``
    (vectorised), written to ``ContactModelScore`` set-based: only rows whose model, persona fit or
    engagement changed; the lead-conversion columns are left alone. Idempotent. Without a persona-fit
    champion (and no ``model`` given) it writes nothing and says so."""
    started = time.monotonic()
    model = model or R.champion(ScoringModelKind.PERSONA_FIT)
    if model is None:
        return {"contacts": 0, "written": 0, "skipped": "no persona_fit champion: train one first"}
    days = int((model.params or {}).get("engagement_window_days", TEAM_WINDOW_DAYS))
    contacts = _chunk_contacts(low, high, as_of, days)
    read = time.monotonic() - started
    if contacts.empty:
        return {"contacts": 0, "written": 0, "model": model.pk, "seconds": round(read, 3)}
    MODEL_SCORED.labels(entity="contact").inc(len(contacts))
    result = pd.DataFrame(
        {
            "contact_id": contacts["contact_id"].to_numpy(),
            "model_id": np.full(len(contacts), model.pk, dtype=np.int64),
            "persona_fit": np.round(persona_fit_predict(model, contacts), 2),
            "engagement_vs_buyers": np.round(engagement_vs_buyers(model, contacts["engagement"]), 2),
        }
    )
    with transaction.atomic():
        derived_data_commit()
        current = stored_read(
            table_sql(ContactModelScore),
            "contact_id",
            SCORE_FIELDS,
            "contact_id >= %s AND contact_id < %s",
            [low, high],
        )
        changed = changed_mask(result, current, "contact_id", SCORE_FIELDS)
        out = result[changed].reset_index(drop=True)
        if len(out):
            out["scored_at"] = now.isoformat()
            fresh = (
                ~out["contact_id"].isin(current["contact_id"]) if len(current) else np.ones(len(out), bool)
            )
            insert_or_upsert(ContactModelScore, "contact_id", out, np.asarray(fresh, dtype=bool))
    return {
        "contacts": len(result),
        "written": len(out),
        "model": model.pk,
        "seconds": round(time.monotonic() - started, 3),
    }


def contacts_score_all(
    *,
    as_of: datetime.date | None = None,
    now: datetime.datetime | None = None,
    model: ScoringModel | None = None,
    chunk: int = 100_000,
) -> dict:
    """``contacts_chunk_score`` over every contact, chunk by chunk (in this process)."""
    as_of, now = as_of or today(), now or timezone.now()
    model = model or R.champion(ScoringModelKind.PERSONA_FIT)
    if model is None:
        return {"contacts": 0, "written": 0, "skipped": "no persona_fit champion: train one first"}
    low, high = id_bounds(Contact)
    totals = {"contacts": 0, "written": 0, "model": model.pk, "chunks": 0}
    for start in range(low, high + 1, chunk):
        stats = contacts_chunk_score(low=start, high=start + chunk, as_of=as_of, now=now, model=model)
        totals["contacts"] += stats["contacts"]
        totals["written"] += stats["written"]
        totals["chunks"] += 1
    return totals
