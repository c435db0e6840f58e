"""Training benchmark: the in-market XGBoost model on a million snapshot rows, the way the product trains
it (``scoring.learned.registry.model_train``), against a plain baseline measured in the same run.

The world is the rescore section's (``bench.rescore``): the same database, kept between runs and seeded
by the same helpers when it is missing. 100,000 accounts × 10 monthly snapshot dates ≈ a million rows.
Training as of the world's last day, on the newest labelled snapshot dates (``labelled_dates``: their
90-day label window has closed) — as many as ``--train-rows`` needs — timed step by step:

1. ``features``: ``scoring.learned.features.snapshots`` builds the matrix from the database (one read of
   the rollups, opportunities and firmographics for the whole period, then every snapshot date);
2. ``fit``: ``scoring.learned.registry.final_fit`` with the product's parameters — one fit on every date
   with the number of trees the backtest's early stopping chose. That choice is the backtest's work
   (``model_train`` runs the backtest first); here it is made, untimed and reported as
   ``tree_choice``, by early stopping on the newest backtest fold (``--train-trees`` gives it instead);
3. ``register``: ``artefact_bytes`` + ``model_register`` (rolled back: the world's champions are the
   learned section's).

``train_seconds`` is their sum. The baseline, each part timed on a sample and extrapolated:

* features one row at a time: ``account_features(as_of=…, account_ids=[id])`` and ``labels`` for one
  (date, account), reindexed to the matrix's columns — the product's own functions, unbatched (the
  sample's rows are checked against the matrix);
* the fit with scikit-learn's ``GradientBoostingClassifier`` (exact splits, the same depth, learning
  rate, row and column subsampling) on a sample of the rows with a few trees; its seconds per
  (row × tree) times the (rows × trees) of the product's two fits.
"""

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from . import db as bench_db
from . import rescore as world
from .db import growth_exponent

TARGET_SECONDS = 120
TARGET_ROWS = 1_000_000
# The whole train command (``--train-scale``) at 100,000 accounts: features of every labelled date, the
# backtest, the final fit and the look-alike models, in a process of its own.
TARGET_COMMAND_SECONDS = 180
TARGET_COMMAND_RSS_GB = 4.0
TARGET_COMMAND_ACCOUNTS = 100_000
SCALE_URL = "postgres://postgres@127.0.0.1:5432/revops_bench_train_{k}k"
HORIZON_DAYS = 90


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--train-database-url",
        help="database of the demo world (default: the rescore section's, which it shares and keeps); "
        "a world of another size needs a database of its own",
    )
    group.add_argument(
        "--train-accounts",
        type=int,
        default=100_000,
        help="demo accounts of the world; the rescore section's world at 100,000",
    )
    group.add_argument(
        "--train-rows",
        type=int,
        default=TARGET_ROWS,
        help="snapshot rows to train on: the newest labelled dates until there are this many (a world "
        "too small for it is fitted on its rows resampled up to this many, and says so)",
    )
    group.add_argument(
        "--train-baseline-rows", type=int, default=200, help="(date, account) rows built one at a time"
    )
    group.add_argument(
        "--train-baseline-fit-rows",
        type=int,
        default=20_000,
        help="rows the scikit-learn GradientBoostingClassifier baseline is fitted on",
    )
    group.add_argument(
        "--train-baseline-trees",
        type=int,
        default=40,
        help="trees of the GradientBoostingClassifier baseline",
    )
    group.add_argument(
        "--train-max-trees",
        type=int,
        help="cap the boosting rounds (fit_xgboost's n_estimators; default: the product's XGB_PARAMS), "
        "for a quick run on a slow machine; the JSON then says these are not the product's parameters",
    )
    group.add_argument(
        "--train-trees",
        type=int,
        help="the final fit's trees, instead of choosing them by early stopping on the newest backtest "
        "fold (untimed, but a few minutes at a million rows); the JSON then says these are given",
    )
    group.add_argument(
        "--train-command",
        action="store_true",
        help="also time the whole training of the train command (model_train: features on every labelled "
        "date, the backtest of XGBoost and its baselines, the final fit, registration; rolled back) — "
        "about 9 minutes and 8 GB at 100,000 accounts",
    )
    group.add_argument(
        "--train-scale",
        metavar="ACCOUNTS,…",
        help="also run the whole `manage.py train` command in a process of its own on worlds of these sizes "
        "(e.g. 25000,50000,100000; each seeded once in --train-scale-url): wall seconds and peak RSS "
        "(ru_maxrss of the process and its children), the log-log growth exponents, and the targets at "
        f"{TARGET_COMMAND_ACCOUNTS:,} accounts",
    )
    group.add_argument(
        "--train-scale-url",
        default=SCALE_URL,
        help="database of each --train-scale world: {k} is the accounts in thousands, {accounts} the "
        "accounts (default: %(default)s)",
    )
    group.add_argument(
        "--train-scale-only",
        action="store_true",
        help="only the --train-scale measurement (not the million-row training of this section)",
    )
    group.add_argument(
        "--train-profile",
        metavar="FILE",
        help="also profile one more features + fit (cProfile) to FILE; top functions in the JSON",
    )


def _reseed(args: argparse.Namespace) -> bool:
    return world.reseeds_here(args, earlier={"rescore", "learned"})


# --- the world and the snapshot dates -------------------------------------------------------------------
def _world(args: argparse.Namespace, url: str) -> tuple[dict, bool]:
    """The rescore section's world of ``--train-accounts``, reused or seeded by its helpers."""
    return world.kept_world(
        url,
        accounts=args.train_accounts,
        seed=args.rescore_seed,
        reseed=_reseed(args),
        flag="--train-database-url",
    )


def _eligible(day: datetime.date) -> int:
    """Rows ``snapshots`` gives for ``day``: every account but those with an opportunity open then."""
    from django.db import connection

    from accounts.choices import CLOSED_STAGES
    from accounts.models import Account, Opportunity

    closed = ", ".join(["%s"] * len(CLOSED_STAGES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {Account._meta.db_table} a WHERE NOT EXISTS ("
            f"SELECT 1 FROM {Opportunity._meta.db_table} o WHERE o.account_id = a.id "
            "AND o.created_date IS NOT NULL AND o.created_date <= %s "
            f"AND NOT (o.stage IN ({closed}) AND o.close_date IS NOT NULL AND o.close_date <= %s))",
            [day, *CLOSED_STAGES, day],
        )
        return cursor.fetchone()[0]


def _dates(as_of: datetime.date, rows: int) -> tuple[list[datetime.date], int]:
    """The newest labelled snapshot dates (at least two: training and validation) until ``rows``."""
    from scoring.learned import backtest as B

    labelled = B.labelled_dates(as_of=as_of, horizon_days=HORIZON_DAYS)
    if len(labelled) < 2:
        raise SystemExit(f"the world has fewer than two labelled snapshot dates before {as_of}")
    chosen, total = [], 0
    for day in reversed(labelled):
        if total >= rows and len(chosen) >= 2:
            break
        chosen.append(day)
        total += _eligible(day)
    return sorted(chosen), total


# --- measuring ------------------------------------------------------------------------------------------
class _Steps:
    """Seconds inside ``snapshots`` (read the period once, features and labels per date) and per
    boosting call (``backtest._boost``: rows, rounds, seconds — the histogram index included, the sparse
    matrix built before it not) while active."""

    WRAPPED = {"_features": "features_per_date", "labels": "labels", "open_at": "open_opportunities"}

    def __init__(self):
        self.seconds: Counter[str] = Counter()
        self.fits: list[dict] = []

    def _timed(self, function, key: str):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started

        return timed

    def _fit(self, function):
        def fit(x, y, params, validation=None, weight=None):
            started = time.perf_counter()
            out = function(x, y, params, validation, weight)
            seconds, rounds = time.perf_counter() - started, int(out.num_boosted_rounds())
            self.fits.append(
                {
                    "rows": x.shape[0],
                    "columns": x.shape[1],
                    "rounds": rounds,
                    "early_stopping": validation is not None,
                    "seconds": round(seconds, 2),
                    "ms_per_round": round(1000 * seconds / rounds, 1) if rounds else None,
                }
            )
            return out

        return fit

    @contextmanager
    def active(self) -> Iterator["_Steps"]:
        from scoring.learned import families
        from scoring.learned import features as F

        patches = [(F, name, self._timed(getattr(F, name), key)) for name, key in self.WRAPPED.items()]
        patches.append((F.Source, "__init__", self._timed(F.Source.__init__, "read_period")))
        patches.append((families, "_boost", self._fit(families._boost)))
        originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
        for owner, name, wrapped in patches:
            setattr(owner, name, wrapped)
        try:
            yield self
        finally:
            for owner, name, function in originals:
                setattr(owner, name, function)


class _Rollback(Exception):
    pass


def _rolled_back(register) -> tuple[object, float]:
    """``register()`` (which registers a model version) timed, then rolled back: the world's champions
    stay the learned section's, and no artefact file is written (the registry writes it on commit)."""
    from django.db import transaction

    started = time.perf_counter()
    try:
        with transaction.atomic():
            model = register()
            seconds = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    return model, seconds


def _register(model, frame, columns: list[str], dates: list[datetime.date]) -> tuple[float, int]:
    """``model_register`` as ``model_train`` calls it (artefact, features, parameters), rolled back.
    Returns the seconds and the artefact's size."""
    from scoring.learned import families
    from scoring.learned.registry import KIND, artefact_bytes, model_register

    params = {**families.XGB_PARAMS, "n_estimators": int(model.n_estimators)}
    params["top_keys"] = frame.attrs.get("top_keys", [])
    registered, seconds = _rolled_back(
        lambda: model_register(
            kind=KIND,
            artefact=artefact_bytes(model),
            features=columns,
            params=params,
            metrics={"bench": "train section, rolled back"},
            train_start=dates[0],
            train_end=dates[-1],
            horizon_days=HORIZON_DAYS,
        )
    )
    return seconds, len(registered.artefact)


def _command(as_of: datetime.date) -> dict:
    """``model_train`` as the ``train`` command runs it for the in-market model, rolled back: seconds by
    stage, from its progress messages, and the peak RSS."""
    from scoring.learned.registry import model_train

    marks: list[tuple[float, str]] = []
    peak_resettable = world._rss_peak_reset()
    started = time.perf_counter()
    model, seconds = _rolled_back(
        lambda: model_train(
            as_of=as_of,
            horizon_days=HORIZON_DAYS,
            progress=lambda message: marks.append((time.perf_counter() - started, message)),
        )
    )
    stages = {}
    for (at, message), (until, _next) in zip(marks, [*marks[1:], (seconds, "")], strict=True):
        stages[message.split(":")[0].rstrip(" …")] = round(until - at, 1)
    report = model.metrics or {}
    return {
        "what": "scoring.learned.registry.model_train (the train command's in-market model), rolled back",
        "seconds": round(seconds, 1),
        "stages_s": stages,  # features, each backtest fold (four models), the final fit + registration
        "fold_train_rows": [f["train_rows"] for f in report.get("folds", [])],
        "snapshot_dates": len(report.get("snapshot_dates", [])),
        "backtest_roc_auc": {k: round(v["roc_auc"], 4) for k, v in report.get("models", {}).items()},
        ("peak_rss_mb" if peak_resettable else "peak_rss_mb_whole_process"): world._rss_mb("VmHWM"),
    }


def _tree_choice(
    frame, dates: list[datetime.date], columns: list[str], params: dict | None, trees: int | None
) -> dict:
    """The number of trees for the final fit, as the backtest chooses it (early stopping in a fold: here
    the newest fold only), untimed; or ``trees`` as given."""
    from scoring.learned import backtest as B
    from scoring.learned import families

    if trees:
        return {"trees": trees, "given": True}
    fold = B.splits(dates, folds=3, horizon_days=HORIZON_DAYS)[-1]
    train = frame[frame["as_of"].isin(fold["train"])]
    validation = frame[frame["as_of"].isin(fold["validation"])]
    started = time.perf_counter()
    chosen = families.early_stopping_trees(train, validation, columns, params)
    return {
        "trees": chosen,
        "fold": {k: [d.isoformat() for d in v] for k, v in fold.items()},
        "rows": len(train),
        "seconds_untimed": round(time.perf_counter() - started, 1),
    }


def _train(
    dates: list[datetime.date], rows: int, seed: int, params: dict | None, trees: int | None = None
) -> tuple[dict, object, list[str]]:
    """The product's training, timed: features from the database, the XGBoost fit, the registration."""
    import pandas as pd

    from scoring.learned import backtest as B
    from scoring.learned import families
    from scoring.learned import features as F
    from scoring.learned.registry import final_fit

    steps = _Steps()
    rss_before = world._rss_mb("VmRSS")
    peak_resettable = world._rss_peak_reset()
    load_before = os.getloadavg()
    cpu = time.process_time()
    with steps.active():
        started, cpu_started = time.perf_counter(), time.process_time()
        frame = F.snapshots(dates=dates, horizon_days=HORIZON_DAYS)
        features_s, features_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        features_steps = dict(steps.seconds)
        columns = B.feature_columns(frame)
        fitted = frame
        if len(frame) < rows:  # a small world: its rows resampled, so that the fit has the size asked
            fitted = frame.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    choice = _tree_choice(fitted, dates, columns, params, trees)  # the backtest's part: untimed
    with steps.active():
        started, cpu_started = time.perf_counter(), time.process_time()
        model = final_fit(fitted, dates, columns, params, trees=choice["trees"])
        fit_s, fit_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    register_s, artefact_bytes = _register(model, frame, columns, dates)
    cpu = features_cpu + fit_cpu  # not the untimed tree choice
    total = features_s + fit_s + register_s
    labels = frame["label"].to_numpy()
    matrix_mb = frame[columns].memory_usage(index=False).sum() / 2**20
    steps_s = {
        key: round(features_steps.get(key, 0.0), 2) for key in ("read_period", *_Steps.WRAPPED.values())
    }
    steps_s["other"] = round(features_s - sum(features_steps.values()), 2)  # concat, exclusions, checks
    fits = steps.fits
    result = {
        "seconds": round(total, 2),
        "rows": len(frame),
        "rows_fitted": len(fitted),
        **({"resampled_from": len(frame)} if len(fitted) != len(frame) else {}),
        "columns": len(columns),
        "snapshot_dates": [d.isoformat() for d in dates],
        "accounts": int(pd.unique(frame["account_id"]).size),
        "positives": int(labels.sum()),
        "matrix_mb": round(float(matrix_mb), 1),
        "steps_s": {
            "features": round(features_s, 2),
            "fit": round(fit_s, 2),
            "register": round(register_s, 3),
        },
        # CPU of this process (both XGBoost threads): what the steps cost on a machine of their own.
        "steps_cpu_s": {"features": round(features_cpu, 2), "fit": round(fit_cpu, 2)},
        "features_s": steps_s,
        "fits": fits,
        "trees": int(model.n_estimators),
        "tree_choice": choice,
        "xgb_params": {
            k: v for k, v in {**families.XGB_PARAMS, **(params or {})}.items() if k != "eval_metric"
        },
        **({"params_override": params} if params else {}),
        "early_stopping_rounds": families.EARLY_STOPPING_ROUNDS,
        "artefact_bytes": artefact_bytes,
        "rows_per_s": round(len(fitted) / total) if total else None,
        "cpu_s_this_process": round(cpu, 2),
        "rss_before_mb": rss_before,
        ("peak_rss_mb" if peak_resettable else "peak_rss_mb_whole_process"): world._rss_mb("VmHWM"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    return result, frame, columns


# --- the baseline ---------------------------------------------------------------------------------------
def _baseline_features(frame, columns: list[str], sample: int, seed: int) -> dict:
    """One (date, account) row at a time with the product's functions: features of that account as of
    that date (the matrix's top keys, so that the columns match), its label; checked against the matrix."""
    import numpy as np

    from scoring.learned import features as F

    top_keys = frame.attrs.get("top_keys")
    rows = random.Random(seed).sample(range(len(frame)), min(sample, len(frame)))
    agree = 0
    started = time.perf_counter()
    for n in rows:
        as_of, account_id = frame.at[n, "as_of"], int(frame.at[n, "account_id"])
        one = F.account_features(as_of=as_of, account_ids=[account_id], top_keys=top_keys)
        label = F.labels(as_of=as_of, horizon_days=HORIZON_DAYS, account_ids=[account_id])
        values = one.reindex(columns=columns, fill_value=0.0).to_numpy(dtype=float)[0]
        same = np.allclose(values, frame.loc[n, columns].to_numpy(dtype=float), equal_nan=True)
        agree += bool(same and int(label.iloc[0]) == int(frame.at[n, "label"]))
    seconds = time.perf_counter() - started
    per_row = seconds / len(rows) if rows else 0.0
    return {
        "method": "per (date, account): account_features(as_of, account_ids=[id], top_keys=…) and "
        "labels(as_of, account_ids=[id]), reindexed to the matrix's columns",
        "sample": len(rows),
        "seconds": round(seconds, 2),
        "ms_per_row": round(1000 * per_row, 2),
        "extrapolated_seconds": round(per_row * len(frame), 1),
        "same_rows_as_matrix": agree,
    }


def _baseline_fit(frame, columns: list[str], fits: list[dict], sample: int, trees: int, seed: int) -> dict:
    """scikit-learn's GradientBoostingClassifier with the product's tree parameters on a sample of the
    rows and a few trees; extrapolated by (rows × trees) to the product's fits."""
    from sklearn.ensemble import GradientBoostingClassifier

    from scoring.learned import families

    p = families.XGB_PARAMS
    chosen = frame.sample(n=min(sample, len(frame)), random_state=seed)
    model = GradientBoostingClassifier(
        n_estimators=trees,
        max_depth=p["max_depth"],
        learning_rate=p["learning_rate"],
        subsample=p["subsample"],
        max_features=p["colsample_bytree"],
        min_samples_leaf=p["min_child_weight"],  # the nearest to a minimum hessian per leaf
        random_state=seed,
    )
    started = time.perf_counter()
    model.fit(chosen[columns].to_numpy(), chosen["label"].to_numpy())
    seconds = time.perf_counter() - started
    per_row_tree = seconds / (len(chosen) * trees)
    work = sum(f["rows"] * f["rounds"] for f in fits)
    return {
        "method": "sklearn GradientBoostingClassifier (exact splits, one thread), same max_depth, "
        "learning_rate, subsample, max_features = colsample_bytree, min_samples_leaf = min_child_weight",
        "sample_rows": len(chosen),
        "trees": trees,
        "seconds": round(seconds, 2),
        "us_per_row_tree": round(1e6 * per_row_tree, 3),
        "product_rows_x_trees": work,
        "extrapolated_seconds": round(per_row_tree * work, 1),
    }


def _profile(path: str, dates: list[datetime.date]) -> dict:
    """Features + fit once more under cProfile."""
    from scoring.learned import backtest as B
    from scoring.learned import families
    from scoring.learned import features as F

    def train() -> None:
        frame = F.snapshots(dates=dates, horizon_days=HORIZON_DAYS)
        columns = B.feature_columns(frame)
        train, validation = frame[frame["as_of"].isin(dates[:-1])], frame[frame["as_of"] == dates[-1]]
        families.fit_xgboost(train, validation, columns)

    return world.profiled(path, train)


def _estimate(ours: dict) -> dict:
    """A capped run's figures scaled to the product's most trees (``XGB_PARAMS["n_estimators"]`` in
    both fits, as when early stopping never stops): an upper bound of its fit, from the same rounds."""
    from scoring.learned import families

    trees = families.XGB_PARAMS["n_estimators"]
    fit = sum(f["seconds"] / f["rounds"] * trees for f in ours["fits"] if f["rounds"])
    return {
        "trees": trees,
        "fit_seconds": round(fit, 1),
        "train_seconds": round(ours["steps_s"]["features"] + fit + ours["steps_s"]["register"], 1),
    }


# --- the whole command at several sizes -----------------------------------------------------------------
def scale_world(
    url: str, *, accounts: int, seed: int, source: str | None = None, flag: str = "--train-scale-url"
) -> tuple[dict, str]:
    """The world of ``accounts`` in ``url``, and how it came (``kept``, ``copied`` or ``seeded``): kept;
    else, when ``source`` (the rescore section's database) holds the world of that size and seed and
    nobody is connected to it, a copy of it (seconds, not the minutes of seeding); else seeded by the
    rescore section's helpers in a process of its own (Django points at one database per process).
    ``flag`` names the option of ``url`` in messages."""

    def wanted(marker: dict | None) -> bool:
        return bool(marker) and marker.get("accounts") == accounts and marker.get("seed") == seed

    marker = world.world_marker(url)
    if wanted(marker):
        return marker, "kept"
    if source and source != url and not marker and wanted(world.world_marker(source)):
        print(f"bench: copying the {accounts:,}-account world of {source} …", file=sys.stderr, flush=True)
        if bench_db.database_copy(source, url):
            return world.world_marker(url), "copied"
        print(f"bench: {source} is in use, so the world is seeded instead", file=sys.stderr, flush=True)
    code = (
        "import sys; from bench import rescore as w; "
        "w.kept_world(sys.argv[1], accounts=int(sys.argv[2]), seed=int(sys.argv[3]), reseed=False, "
        "flag=sys.argv[4])"
    )
    done = subprocess.run([sys.executable, "-c", code, url, str(accounts), str(seed), flag], cwd=world.ROOT)
    if done.returncode:
        raise SystemExit(f"could not seed the {accounts:,}-account world in {url}")
    return world.world_marker(url), "seeded"


def command_process(url: str) -> dict:
    """``manage.py train --json`` in a process of its own against ``url``: wall seconds, the process's
    peak RSS and CPU (``os.wait4``: it and its children), the load average around it. The versions it
    registers are deleted afterwards, so that every run starts from the same world."""
    import psycopg

    table = "scoring_scoringmodel"  # ScoringModel's (this process need not set Django up)
    with psycopg.connect(url) as conn:
        last = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
    env = {**os.environ, **bench_db.server_environment(url), "REDIS_URL": ""}  # Celery eager: one process
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    load_before = os.getloadavg()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "manage.py", "train", "--json"], cwd=world.ROOT, env=env, stdout=out, stderr=err
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    with psycopg.connect(url) as conn:
        conn.execute(f"DELETE FROM {table} WHERE id > %s", [last])
    if child.returncode:
        raise SystemExit(f"manage.py train failed (exit {child.returncode}):\n{stderr[-4000:]}")
    summary = json.loads(stdout)
    return {
        "seconds": round(seconds, 1),
        "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2),  # kilobytes on Linux
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "backtest_roc_auc": {k: round(v, 4) for k, v in summary.get("backtest", {}).items() if v is not None},
        "fit_models": {k: v.get("roc_auc") for k, v in summary.get("fit_models", {}).items()},
        "progress": [line for line in stderr.splitlines() if line.strip()][-40:],
    }


def _scale(args: argparse.Namespace) -> dict:
    """The whole train command at each ``--train-scale`` size, the growth exponents and the targets."""
    sizes = sorted({int(n) for n in args.train_scale.split(",") if n.strip()})
    runs = {}
    for accounts in sizes:
        url = args.train_scale_url.format(k=accounts // 1000, accounts=accounts)
        if "bench" not in url.rsplit("/", 1)[-1]:
            raise SystemExit(f"Refusing to use {url!r}: the database name must contain 'bench'.")
        marker, how = scale_world(
            url, accounts=accounts, seed=args.rescore_seed, source=world.shared_database_url(args, None)
        )
        print(f"bench: the train command at {accounts:,} accounts …", file=sys.stderr, flush=True)
        runs[accounts] = {
            "database": url, "world": how, "world_end_date": marker["end_date"], **command_process(url)
        }  # fmt: skip
    measured = [n for n in sizes if n in runs]
    at_target = runs.get(TARGET_COMMAND_ACCOUNTS)
    load = max(max(r["load_average_before"][0], r["load_average_after"][0]) for r in runs.values())
    return {
        "what": "`manage.py train --json` (in-market model with its backtest, final fit, look-alike models) "
        "in a process of its own; registered versions deleted after each run",
        "runs": {str(n): runs[n] for n in measured},
        "seconds_exponent": growth_exponent(measured, [runs[n]["seconds"] for n in measured]),
        "peak_rss_exponent": growth_exponent(measured, [runs[n]["peak_rss_gb"] for n in measured]),
        "targets": {
            "accounts": TARGET_COMMAND_ACCOUNTS,
            "train_seconds": TARGET_COMMAND_SECONDS,
            "peak_rss_gb": TARGET_COMMAND_RSS_GB,
        },
        "train_seconds_met": None if at_target is None else at_target["seconds"] <= TARGET_COMMAND_SECONDS,
        "peak_rss_gb_met": None if at_target is None else at_target["peak_rss_gb"] <= TARGET_COMMAND_RSS_GB,
        **bench_db.load_warning(load, "(the highest) during the runs"),
    }


# --- the section ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    if args.train_scale_only:
        if not args.train_scale:
            raise SystemExit("--train-scale-only needs --train-scale")
        return {"train_command_scale": _scale(args)}
    url = world.shared_database_url(args, args.train_database_url)
    if bench_db.ready_url() not in (None, url):
        return world.in_own_process(
            "train", args, own=("train_", "rescore_seed"), url_flag="--train-database-url", url=url,
            reseed=_reseed(args),
        )  # fmt: skip
    started = time.perf_counter()
    marker, reused = _world(args, url)
    as_of = datetime.date.fromisoformat(marker["end_date"]) - datetime.timedelta(days=1)
    dates, eligible = _dates(as_of, args.train_rows)
    setup_s = time.perf_counter() - started
    seed = args.rescore_seed

    print(
        f"bench: training on {len(dates)} snapshot dates (~{eligible:,} rows) …", file=sys.stderr, flush=True
    )
    params = {"n_estimators": args.train_max_trees} if args.train_max_trees else None
    ours, frame, columns = _train(dates, args.train_rows, seed, params, args.train_trees)
    print(
        f"bench: train baseline, {args.train_baseline_rows} rows one at a time …", file=sys.stderr, flush=True
    )
    features = _baseline_features(frame, columns, args.train_baseline_rows, seed)
    print("bench: train baseline, GradientBoostingClassifier on a sample …", file=sys.stderr, flush=True)
    fit = _baseline_fit(
        frame, columns, ours["fits"], args.train_baseline_fit_rows, args.train_baseline_trees, seed
    )
    del frame
    command = None
    if args.train_command:
        print("bench: the train command's whole training (backtest included) …", file=sys.stderr, flush=True)
        command = _command(as_of)
    profile = None
    if args.train_profile:
        print("bench: profiling features + fit …", file=sys.stderr, flush=True)
        profile = _profile(args.train_profile, dates)

    steps = ours["steps_s"]
    baseline_s = features["extrapolated_seconds"] + fit["extrapolated_seconds"]

    def ratio(slow: float, fast: float) -> float | None:
        return round(slow / fast, 1) if fast and slow else None

    load = max(ours["load_average_before"][0], ours["load_average_after"][0])
    result = {
        "database": {"url": url},
        "world": {
            "accounts": marker["accounts"],
            "seed": marker["seed"],
            "reused": reused,
            "seeded_at": marker["seeded_at"],
            "as_of": as_of.isoformat(),
            "horizon_days": HORIZON_DAYS,
            "setup_seconds": round(setup_s, 1),
        },
        "train": ours,
        "train_seconds": ours["seconds"],
        "rows": ours["rows"],
        "rows_fitted": ours["rows_fitted"],
        "baseline": {
            "features": features,
            "fit": fit,
            "extrapolated_seconds": round(baseline_s, 1),
        },
        "speedup": ratio(baseline_s, ours["seconds"]),
        "speedup_features": ratio(features["extrapolated_seconds"], steps["features"]),
        "speedup_fit": ratio(fit["extrapolated_seconds"], steps["fit"]),
        "targets": {"train_seconds": TARGET_SECONDS, "rows": TARGET_ROWS},
        # Only the product's own parameters and tree choice can meet it: the others are measurements.
        "meets_target": not params
        and not args.train_trees
        and ours["seconds"] <= TARGET_SECONDS
        and ours["rows"] >= TARGET_ROWS,
        **({"not_the_product_parameters": params} if params else {}),
        **({"trees_given_not_chosen": args.train_trees} if args.train_trees else {}),
        **({"product_max_trees_estimate": _estimate(ours)} if params else {}),
        **bench_db.load_warning(load, "during training"),
    }
    if command:
        result["train_command"] = command
    if args.train_scale:
        result["train_command_scale"] = _scale(args)
    if profile:
        result["profile"] = profile
    return result
