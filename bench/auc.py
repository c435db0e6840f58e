"""AUC benchmark: the in-market backtest on the demo world at ``make demo``'s size and seed, on PostgreSQL —
the issue's accuracy bar, measured by the product's own backtest (``scoring.learned.backtest.run``, what
``manage.py backtest --json`` prints).

The world is seeded afresh in a database of its own (2,000 accounts take seconds): ``seed_demo`` with
``--auc-accounts`` / ``--auc-seed`` (``make demo``'s ``DEMO_ACCOUNTS`` / ``DEMO_SEED``) and a period ending
``--auc-end-date`` (default today, as ``make demo``). Reported: every row's pooled ROC AUC and PR AUC over
the rolling-origin test folds, the champion family and its bootstrap differences, what each feature
group earns, and the bars: the champion ranks first among everything but the two oracles, and is within
``TARGET_GAP`` of the observable ceiling (a regressor on the generator's true propensities from the same
features: the best a model of what the data shows can do; the ground truth also knows hidden state).
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


def run(args: argparse.Namespace) -> dict:
    url = _url(args)
    if bench_db.ready_url() not in (None, url):
        return world.in_own_process(
            "auc", args, own=("auc_",), url_flag="--auc-database-url", url=url, reseed=False
        )
    end = args.auc_end_date or datetime.datetime.now(datetime.UTC).date()
    bench_db.database_recreate(url)
    bench_db.django_ready(url)
    seed_s = world._seed(url, args.auc_accounts, args.auc_seed, end)

    from scoring.learned import backtest as B
    from scoring.learned import features as F

    print("bench: the in-market backtest on the demo world …", file=sys.stderr, flush=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    as_of = B.data_end()
    dates = B.labelled_dates(as_of=as_of, horizon_days=HORIZON_DAYS)
    frame = F.snapshots(dates=dates, horizon_days=HORIZON_DAYS)
    report = B.run(as_of=as_of, horizon_days=HORIZON_DAYS, folds=args.auc_folds, frame=frame)
    backtest_s = time.perf_counter() - started

    models = {
        name: {"roc_auc": round(values["roc_auc"], 4), "pr_auc": round(values["pr_auc"], 4)}
        for name, values in report["models"].items()
    }
    champion = report["champion"]
    ours = champion["roc_auc"]
    ceiling = models.get("observable_ceiling", {}).get("roc_auc")
    truth = models.get("ground_truth", {}).get("roc_auc")
    others = {name: v["roc_auc"] for name, v in models.items() if name not in B.ORACLES}
    ranked_first = all(ours >= auc for auc in others.values())
    gap = round(ceiling - ours, 4) if ceiling is not None else None
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
        "test_rows": report["models"][champion["family"]]["rows"],
        "test_positives": report["models"][champion["family"]]["positives"],
        "models": models,
        "champion": {k: champion[k] for k in ("family", "roc_auc", "differences")},
        "feature_groups": report.get("feature_groups"),
        "xgboost_trees": report.get("xgboost_trees"),
        "observable_ceiling_gap": gap,
        "ground_truth_gap": round(truth - ours, 4) if truth is not None else None,
        "backtest_seconds": round(backtest_s, 1),
        "targets": {
            "observable_ceiling_gap_at_most": TARGET_GAP,
            "within_ceiling_met": gap is not None and gap <= TARGET_GAP,
            "champion_ranks_first_met": ranked_first,
            "behind_champion": {name: round(ours - auc, 4) for name, auc in others.items()},
        },
        "load_average_before": [round(x, 2) for x in load_before],
    }
