"""AUC benchmark: the in-market backtest on the demo world at ``make demo``'s size and seed, on PostgreSQL —
the issue's accuracy bar, measured by the product's own backtest (``scoring.ml.backtest.run``, what
``manage.py backtest --json`` prints).

The world is seeded afresh in a database of its own (2,000 accounts take seconds): ``seed_demo`` with
``--auc-accounts`` / ``--auc-seed`` (``make demo``'s ``DEMO_ACCOUNTS`` / ``DEMO_SEED``) and a period ending
``--auc-end-date`` (default today, as ``make demo``). Reported: every model's pooled ROC AUC and PR AUC over
the rolling-origin test folds, the gap between XGBoost and the generator's ground truth, and whether
XGBoost beats each baseline.

One more reference, measured here and not by the product: the **observable ceiling** — an XGBoost
regressor trained, fold by fold on the same training dates, on the ground truth's *propensities* (not
the 0/1 labels) from the same features, scored on the same test rows. With noise-free targets it
approaches the best any model of these features can do; the ground truth also knows the generator's
hidden state (a budget term, when a buying cycle starts, cooling), which no feature shows.
"""

import argparse
import datetime
import os
import sys
import time

from . import db as bench_db
from . import rescore as world

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/revops_bench_auc"
TARGET_GAP = 0.02
BASELINES = ("logistic_regression", "naive_bayes", "rules")
HORIZON_DAYS = 90


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--auc-database-url",
        help=f"database for the demo world, dropped and seeded on every run (default {DEFAULT_URL})",
    )
    group.add_argument("--auc-accounts", type=int, default=2000, help="seed_demo --accounts (make demo's)")
    group.add_argument("--auc-seed", type=int, default=42, help="seed_demo --seed (make demo's)")
    group.add_argument(
        "--auc-end-date",
        type=datetime.date.fromisoformat,
        help="seed_demo --end-date, YYYY-MM-DD (default: today, as make demo)",
    )
    group.add_argument("--auc-folds", type=int, default=3, help="backtest folds (manage.py backtest's)")


def _url(args: argparse.Namespace) -> str:
    return world.shared_database_url(args, args.auc_database_url or DEFAULT_URL)


def _ceiling(frame, dates: list[datetime.date], folds: int) -> dict:
    """The observable ceiling (see the module's docstring), pooled over the backtest's test folds."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from xgboost import XGBRegressor

    from scoring.ml import backtest as B

    truth = []
    for day in dates:
        series = B.ground_truth(day, HORIZON_DAYS)
        if series is not None:
            truth.append(pd.DataFrame({"as_of": day, "account_id": series.index, "truth": series.to_numpy()}))
    if not truth:
        return {"skipped": "no ground truth: not a demo world"}
    frame = frame.merge(pd.concat(truth), on=["as_of", "account_id"], how="left")
    columns = B.feature_columns(frame.drop(columns=["truth"]))
    labels, scores = [], []
    for split in B.splits(dates, folds=folds, horizon_days=HORIZON_DAYS):
        train = frame[frame["as_of"].isin(split["train"] + split["validation"]) & frame["truth"].notna()]
        test = frame[frame["as_of"].isin(split["test"])]
        model = XGBRegressor(
            n_estimators=400, max_depth=4, learning_rate=0.05, subsample=0.8, colsample_bytree=0.5,
            n_jobs=2, random_state=0,
        )  # fmt: skip
        model.fit(train[columns], train["truth"])
        labels.append(test["label"].to_numpy())
        scores.append(model.predict(test[columns]))
    y = np.concatenate(labels)
    return {"roc_auc": round(float(roc_auc_score(y, np.concatenate(scores))), 4)}


def run(args: argparse.Namespace) -> dict:
    url = _url(args)
    if bench_db._ready_url not in (None, url):
        return world.in_own_process(
            "auc", args, own=("auc_",), url_flag="--auc-database-url", url=url, reseed=False
        )
    end = args.auc_end_date or datetime.datetime.now(datetime.UTC).date()
    bench_db.database_recreate(url)
    bench_db.django_ready(url)
    seed_s = world._seed(url, args.auc_accounts, args.auc_seed, end)

    from scoring.ml import backtest as B
    from scoring.ml import features as F

    print("bench: the in-market backtest on the demo world …", file=sys.stderr, flush=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    as_of = B.data_end()
    dates = B.labelled_dates(as_of=as_of, horizon_days=HORIZON_DAYS)
    frame = F.snapshots(dates=dates, horizon_days=HORIZON_DAYS)
    report = B.run(as_of=as_of, horizon_days=HORIZON_DAYS, folds=args.auc_folds, frame=frame)
    backtest_s = time.perf_counter() - started
    print("bench: the observable ceiling (untimed reference) …", file=sys.stderr, flush=True)
    ceiling = _ceiling(frame, dates, args.auc_folds)

    models = {
        name: {"roc_auc": round(values["roc_auc"], 4), "pr_auc": round(values["pr_auc"], 4)}
        for name, values in report["models"].items()
    }
    ours = models["xgboost"]["roc_auc"]
    truth = models.get("ground_truth", {}).get("roc_auc")
    gap = round(truth - ours, 4) if truth is not None else None
    above = {name: ours > models[name]["roc_auc"] for name in BASELINES if name in models}
    return {
        "database": {"url": url},
        "world": {
            "accounts": args.auc_accounts,
            "seed": args.auc_seed,
            "end_date": end.isoformat(),
            "seed_seconds": round(seed_s, 1),
        },
        "snapshot_dates": len(dates),
        "rows": len(frame),
        "test_folds": len(report["folds"]),
        "test_rows": report["models"]["xgboost"]["rows"],
        "test_positives": report["models"]["xgboost"]["positives"],
        "models": models,
        "xgboost_trees": report.get("xgboost_trees"),
        "ground_truth_gap": gap,
        "observable_ceiling": {
            **ceiling,
            **(
                {"gap_to_ground_truth": round(truth - ceiling["roc_auc"], 4)}
                if truth is not None and "roc_auc" in ceiling
                else {}
            ),
        },
        "backtest_seconds": round(backtest_s, 1),
        "targets": {
            "ground_truth_gap_at_most": TARGET_GAP,
            "within_gap_met": gap is not None and gap <= TARGET_GAP,
            "above_baselines": above,
            "above_all_baselines_met": bool(above) and all(above.values()),
        },
        "load_average_before": [round(x, 2) for x in load_before],
    }
