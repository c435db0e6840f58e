"""Learned-score benchmark: the full rescore of the demo world through the chunked pipeline
(``scoring.pipeline.full_rescore_local``: features as of the world's last day, XGBoost in-market
probability, SHAP contributions, profile fit, bands, buying stages, persona fit of contacts, write-back),
against a plain per-account ORM loop measured in the same run.

The world is the rescore section's (``bench.rescore``): the same database, kept between runs and
seeded by the same helpers when it is missing. Setup, untimed: the rules scores (``rescore_all``), and
the champions the pipeline scores with — an in-market model trained on a modest sample of snapshot
rows (no backtest: training is measured by its own section) and, when ``scoring.learned.lookalike`` can
train them, the account and persona fit models. The models are kept between runs too (``bench_meta``).

Then, each from empty learned-score tables:

1. baseline: a random sample of accounts, one at a time the way a straightforward Django app would —
   ``account_features(account_ids=[id])``, ``booster.predict``, ``pred_contribs``, profile fit, bands,
   stage, then ``AccountModelScore.update_or_create`` and a history row through the ORM — timed and
   extrapolated to the population;
2. the learned phases only (``rules=False``) in one process, timed step by step (features / predict /
   SHAP / write …), and in ``--learned-processes`` processes;
3. the whole pipeline, rules phases included, from no scores at all (the headline), then once more with
   nothing changed. The baseline's probabilities are checked against those the pipeline stored.
"""

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from . import db as bench_db
from . import rescore as world
from .db import queries_counted, server_environment
from .server import children_cpu, machine_times, server_cpu, steal_share

TARGET_SECONDS = 30  # issue 16: the whole pipeline (was 60)
TARGET_SPEEDUP = 50
MODELS_KEY = "learned_models"
HORIZON_DAYS = 90


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--learned-database-url",
        help="database of the demo world (default: the rescore section's, which it shares and keeps); "
        "a world of another size needs a database of its own",
    )
    group.add_argument(
        "--learned-accounts",
        type=int,
        default=100_000,
        help="demo accounts of the world (~9.8 contacts each); the rescore section's world at 100,000",
    )
    group.add_argument(
        "--learned-baseline-sample", type=int, default=200, help="accounts through the per-account ORM loop"
    )
    group.add_argument(
        "--learned-processes", type=int, default=2, help="full_rescore_local(processes=…) of the headline"
    )
    group.add_argument(
        "--learned-repeats",
        type=int,
        default=3,
        help="runs of the learned rescore and of the whole pipeline, each from empty score tables: the "
        "median run is reported (run to run they vary by ~15 s: autovacuum, checkpoints)",
    )
    group.add_argument(
        "--learned-train-accounts",
        type=int,
        default=25_000,
        help="accounts (the lowest ids) whose snapshots train the in-market champion (setup, untimed)",
    )
    group.add_argument(
        "--learned-train-snapshots", type=int, default=4, help="monthly snapshot dates to train on"
    )
    group.add_argument(
        "--learned-retrain", action="store_true", help="train the champions again even if kept ones fit"
    )
    group.add_argument(
        "--learned-profile",
        metavar="FILE",
        help="also profile one more learned rescore (cProfile, one process) to FILE; top functions in JSON",
    )


def _reseed(args: argparse.Namespace) -> bool:
    return world.reseeds_here(args, earlier={"rescore"})


# --- the world and the champions ------------------------------------------------------------------------
def _world(args: argparse.Namespace, url: str) -> tuple[dict, bool]:
    """The rescore section's world of ``--learned-accounts``, reused or seeded by its helpers."""
    return world.kept_world(
        url,
        accounts=args.learned_accounts,
        seed=args.rescore_seed,
        reseed=_reseed(args),
        flag="--learned-database-url",
    )


def clear_learned() -> None:
    """No learned scores at all: every account and contact is written by the next rescore."""
    from django.db import connection

    from scoring.models import (
        AccountModelScore,
        AccountModelScoreHistory,
        BuyingStageTransition,
        ContactModelScore,
    )

    tables = (AccountModelScore, AccountModelScoreHistory, BuyingStageTransition, ContactModelScore)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(m._meta.db_table for m in tables)}")


def _meta(key: str, value: dict | None = None) -> dict | None:
    """Read (or write) one ``bench_meta`` entry of the world's database."""
    from django.db import connection

    with connection.cursor() as cursor:
        if value is not None:
            cursor.execute(
                "INSERT INTO bench_meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                [key, json.dumps(value)],
            )
            return value
        cursor.execute("SELECT value FROM bench_meta WHERE key = %s", [key])
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def _lookalike() -> tuple[object | None, str | None]:
    """``scoring.learned.lookalike`` when it can train and score (another part of the project), else why
    not."""
    try:
        from scoring.learned import lookalike

        for name in ("train_persona_fit", "contacts_chunk_score", "train_account_fit"):
            getattr(lookalike, name)
    except (ImportError, AttributeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return lookalike, None


def _promoted(model_id: int | None, sha256: str | None):
    """The kept model ``model_id`` (same artefact), made champion of its kind again if it was replaced."""
    from scoring.choices import ScoringModelStatus
    from scoring.learned.registry import model_promote
    from scoring.models import ScoringModel

    model = ScoringModel.objects.filter(pk=model_id, artefact_sha256=sha256).first() if model_id else None
    if model is not None and model.status != ScoringModelStatus.CHAMPION:
        model = model_promote(model=model, user=None, reason="bench: the model under test")
    return model


def _train_in_market(as_of: datetime.date, accounts: int, snapshots: int) -> tuple[object, dict]:
    """An XGBoost in-market model with the backtest's parameters (early stopping on the newest date),
    on ``snapshots`` monthly dates whose 90-day labels closed by ``as_of``, for the lowest ``accounts``
    account ids (an id range: the demo world's ids are in no meaningful order)."""
    from accounts.models import Account
    from scoring.choices import ScoringModelKind, ScoringModelStatus
    from scoring.learned import backtest as B
    from scoring.learned import families
    from scoring.learned import features as F
    from scoring.learned.registry import artefact_bytes, model_promote, model_register
    from scoring.store import id_bounds

    started = time.perf_counter()
    low, high = id_bounds(Account)
    ids = range(low, min(high + 1, low + accounts))
    last = as_of - datetime.timedelta(days=HORIZON_DAYS)
    dates = [last - datetime.timedelta(days=30 * k) for k in range(max(2, snapshots))][::-1]
    frame = F.snapshots(dates=dates, horizon_days=HORIZON_DAYS, account_ids=ids)
    columns = B.feature_columns(frame)
    train, validation = frame[frame["as_of"].isin(dates[:-1])], frame[frame["as_of"] == dates[-1]]
    model = families.fit_xgboost(train, validation, columns)
    trees = int(model.n_estimators)
    info = {
        "rows": len(frame),
        "accounts": len(ids),
        "snapshot_dates": [d.isoformat() for d in dates],
        "positives": int(frame["label"].sum()),
        "features": len(columns),
        "trees": trees,
        "max_depth": int(families.XGB_PARAMS["max_depth"]),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    params = {**families.XGB_PARAMS, "n_estimators": trees, "top_keys": frame.attrs.get("top_keys", [])}
    registered = model_register(
        kind=ScoringModelKind.IN_MARKET.value,
        artefact=artefact_bytes(model),
        features=columns,
        params=params,
        metrics={"bench": info},  # no backtest: a champion only by promotion
        train_start=dates[0],
        train_end=dates[-1],
        horizon_days=HORIZON_DAYS,
    )
    if registered.status != ScoringModelStatus.CHAMPION:
        registered = model_promote(model=registered, user=None, reason="bench: the model under test")
    return registered, info


def champions_ensure(args: argparse.Namespace, as_of: datetime.date) -> dict:
    """The in-market champion (and the fit models when they can be trained), kept or trained now."""
    spec = {
        "as_of": as_of.isoformat(),
        "train_accounts": args.learned_train_accounts,
        "train_snapshots": args.learned_train_snapshots,
    }
    kept = None if args.learned_retrain else _meta(MODELS_KEY)
    kept = kept if kept and kept.get("spec") == spec else {}
    out: dict = {"spec": spec}
    models = {}

    in_market = _promoted(*(kept.get("in_market") or (None, None)))
    if in_market is None:
        print("bench: training the in-market champion (setup) …", file=sys.stderr, flush=True)
        in_market, info = _train_in_market(as_of, args.learned_train_accounts, args.learned_train_snapshots)
        out["in_market"] = {"reused": False, **info}
    else:
        out["in_market"] = {"reused": True, **((in_market.metrics or {}).get("bench") or {})}
    out["in_market"].update(id=in_market.pk, version=in_market.version)
    models["in_market"] = [in_market.pk, in_market.artefact_sha256]

    from scoring.choices import ScoringModelStatus

    lookalike, missing = _lookalike()
    for kind, train in (("account_fit", "train_account_fit"), ("persona_fit", "train_persona_fit")):
        if lookalike is None:
            out[kind] = {"skipped": f"scoring.learned.lookalike cannot train it ({missing})"}
            continue
        model = _promoted(*(kept.get(kind) or (None, None)))
        if model is None:
            print(f"bench: training the {kind} champion (setup) …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            model = getattr(lookalike, train)(as_of=as_of)
            if model.status != ScoringModelStatus.CHAMPION:
                model = _promoted(model.pk, model.artefact_sha256)
            out[kind] = {"reused": False, "train_seconds": round(time.perf_counter() - started, 1)}
        else:
            out[kind] = {"reused": True}
        auc = ((model.metrics or {}).get("models", {}).get("xgboost") or {}).get("roc_auc")
        out[kind].update(id=model.pk, version=model.version, cross_validated_roc_auc=auc)
        models[kind] = [model.pk, model.artefact_sha256]
    _meta(MODELS_KEY, {"spec": spec, **models})
    return out


# --- measuring ------------------------------------------------------------------------------------------
class _Clock:
    """Seconds per phase of ``full_rescore_local`` (also with several processes: the parent times each
    phase's pool) and, in one process, per step inside the chunks of the learned phases."""

    STEPS = {  # (module, function) → step; within the phase the chunk function runs in
        ("scoring.learned.features", "account_features"): "features",
        ("scoring.learned.predictions", "in_market_predict"): "predict",
        ("scoring.learned.predictions", "in_market_contributions"): "shap",
        ("scoring.learned.predictions", "_contributions_json"): "explanations",  # SHAP + top five + JSON
        ("scoring.learned.predictions", "profile_fit"): "profile_fit",
        ("scoring.learned.predictions", "_stored"): "read_stored",
        ("scoring.learned.predictions", "_rules_fit"): "read_stored",
        ("scoring.learned.predictions", "_open_opportunities"): "read_stored",
        ("scoring.learned.predictions", "insert_or_upsert"): "write",
        ("scoring.learned.predictions", "frame_copy"): "write",
        ("scoring.learned.lookalike", "_chunk_contacts"): "read_contacts",
        ("scoring.learned.lookalike", "persona_fit_predict"): "persona_fit",
        ("scoring.learned.lookalike", "engagement_vs_buyers"): "engagement_vs_buyers",
        ("scoring.rescore", "stored_read"): "read_stored",
        ("scoring.rescore", "changed_mask"): "compare",
        ("scoring.rescore", "insert_or_upsert"): "write",
    }

    def __init__(self):
        self.phases: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()
        self.phase = ""

    @contextmanager
    def active(self, steps: bool) -> Iterator["_Clock"]:
        import importlib

        from scoring import pipeline

        patches = [(pipeline, "runner", self._runner(pipeline.runner))]
        if steps:
            patches.append((pipeline, "chunk_run", self._chunk(pipeline.chunk_run)))
            for (module, name), step in self.STEPS.items():
                try:
                    owner = importlib.import_module(module)
                except ImportError:
                    continue
                if hasattr(owner, name):
                    patches.append((owner, name, self._step(getattr(owner, name), step)))
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
        for owner, name, wrapped in patches:
            setattr(owner, name, wrapped)
        try:
            yield self
        finally:
            for owner, name, function in originals:
                setattr(owner, name, function)

    def _runner(self, original):
        @contextmanager
        def runner(processes):
            with original(processes) as run:

                def timed(function, jobs):
                    phase = jobs[0]["phase"] if jobs else "none"
                    started = time.perf_counter()
                    yield from run(function, jobs)
                    self.phases[phase] += time.perf_counter() - started

                yield timed

        return runner

    def _chunk(self, original):
        def chunk_run(params, phase, index):
            self.phase = phase
            try:
                return original(params, phase, index)
            finally:
                self.phase = ""

        return chunk_run

    def _step(self, function, step):
        def timed(*args, **kwargs):
            if not self.phase or self.phase in ("contacts", "accounts"):  # rules phases: not broken down
                return function(*args, **kwargs)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.steps[f"{self.phase}.{step}"] += time.perf_counter() - started

        return timed

    def breakdown(self) -> dict:
        out: dict[str, dict] = {}
        for phase, seconds in sorted(self.phases.items()):
            steps = {k.split(".", 1)[1]: v for k, v in self.steps.items() if k.startswith(f"{phase}.")}
            if not steps:
                continue
            if "explanations" in steps and "shap" in steps:
                steps["explanations"] -= steps["shap"]  # what is left: top five and JSON text
                steps["top_contributions_json"] = steps.pop("explanations")
            steps["other"] = seconds - sum(steps.values())  # bands, stages, comparisons, commits
            out[phase] = {k: round(v, 2) for k, v in steps.items()}
        return out


def _pipeline(
    url: str, as_of: datetime.date, *, rules: bool, processes: int, steps: bool = False, models: bool = True
) -> dict:
    """``full_rescore_local`` once, timed (per phase; per step too with ``steps`` in one process)."""
    from scoring.pipeline import full_rescore_local

    clock = _Clock()
    load_before, ticks = os.getloadavg(), machine_times()
    cpu, db_cpu = time.process_time(), server_cpu(url)
    children = children_cpu()
    with clock.active(steps and processes == 1):
        started = time.perf_counter()
        totals = full_rescore_local(rules=rules, models=models, as_of=as_of, processes=processes)
        seconds = time.perf_counter() - started
    db_after = server_cpu(url)
    phases = {k: round(v, 2) for k, v in sorted(clock.phases.items())}
    phases["plan_and_other"] = round(seconds - sum(clock.phases.values()), 2)
    counts = {  # summed over chunks ("…_model" ids are not counts; "…_seconds" are chunk-reported times)
        k: (round(v, 2) if k.endswith("_seconds") else int(v))
        for k, v in totals.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and not k.endswith("_model")
    }
    out = {
        "processes": processes,
        "seconds": round(seconds, 2),
        "phases_s": phases,
        "counts": counts,
        "cpu_s": {
            "this_process": round(time.process_time() - cpu, 2),
            "chunk_processes": round(children_cpu() - children, 2),
            # The whole server's: the chunk processes' connections have closed by now.
            "database": round(db_after - db_cpu, 2),
        },
        "peak_rss_mb_this_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # The largest pool process's peak (the pool has exited): each holds its own chunk at a time.
        "peak_rss_mb_chunk_processes": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        # CPU time the hypervisor gave other machines meanwhile: runs with much of it are slower for it.
        "steal_share": steal_share(ticks, machine_times()),
    }
    if "models_skipped" in totals:
        out["models_skipped"] = totals["models_skipped"]
    if steps and processes == 1:
        out["breakdown_s"] = clock.breakdown()
    return out


def pipeline_process(
    url: str, as_of: datetime.date, *, rules: bool, processes: int, steps: bool = False, models: bool = True
) -> dict:
    """``_pipeline`` in a fresh Python process, as ``manage.py rescore`` runs: the chunk pool forks it,
    and a process that has already run XGBoost (OpenMP) must not fork — the children hang in libgomp."""
    job = {"url": url, "as_of": as_of.isoformat(), "rules": rules, "models": models, "processes": processes}
    job["steps"] = steps
    argv = [sys.executable, "-m", "bench.learned", "--pipeline", json.dumps(job)]
    env = {**os.environ, **server_environment(url)}
    done = subprocess.run(argv, cwd=world.ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"the learned rescore failed in its process (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median_run(repeats: int, prepare, run) -> dict:
    """``run()`` ``repeats`` times, each after ``prepare()``: the median run's figures, with every run's
    seconds in ``runs_s``."""
    runs = []
    for _ in range(repeats):
        prepare()
        runs.append(run())
    runs_s = [r["seconds"] for r in runs]
    median = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]
    return {**median, "runs_s": runs_s}


def _pipeline_main(job: dict) -> None:
    """The other end of ``pipeline_process``."""
    bench_db.django_ready(job["url"])
    as_of = datetime.date.fromisoformat(job["as_of"])
    options = {k: job[k] for k in ("rules", "models", "processes", "steps")}
    print(json.dumps(_pipeline(job["url"], as_of, **options)))


def _profile(path: str, as_of: datetime.date) -> dict:
    """One more learned rescore (one process, from empty learned tables) under cProfile."""
    from scoring.pipeline import full_rescore_local

    clear_learned()
    return world.profiled(
        path, lambda: full_rescore_local(rules=False, models=True, as_of=as_of, processes=1)
    )


# --- the baseline: one account at a time through the ORM ------------------------------------------------
def _baseline(as_of: datetime.date, ids: list[int]) -> dict:
    """What a plain Django implementation would do per account, with the project's own feature,
    model and policy functions (same semantics): nothing batched, every write through the ORM."""
    import numpy as np
    from django.utils import timezone

    from accounts.choices import CLOSED_STAGES
    from accounts.models import Opportunity
    from scoring.engine import stages as stage_engine
    from scoring.learned import families
    from scoring.learned import features as F
    from scoring.learned import predictions as P
    from scoring.models import (
        AccountModelScore,
        AccountModelScoreHistory,
        AccountRuleScore,
        BuyingStageTransition,
    )

    scorer = P.Scorer.current()
    model, policy = scorer.in_market, scorer.policy
    booster = families.fitted_of(model).get_booster()  # loaded once, as any app would (XGBoost: ours)
    names = list(model.features)
    top_keys = (model.params or {}).get("top_keys")
    stage_policy = stage_engine.StagePolicy.of(policy)
    results: dict[int, tuple] = {}
    with queries_counted() as queries:
        started = time.perf_counter()
        for aid in ids:
            frame = F.account_features(as_of=as_of, account_ids=[aid], top_keys=top_keys)
            matrix = families.dmatrix(
                frame.reindex(columns=names, fill_value=0.0).to_numpy(dtype=np.float32),
                params=model.params,
                feature_names=names,
            )
            p = float(np.round(np.float64(booster.predict(matrix)[0]), 4))  # as the pipeline rounds
            contributions = booster.predict(matrix, pred_contribs=True)[0][:-1]
            values = frame.reindex(columns=names, fill_value=0.0).iloc[0].tolist()
            top = sorted(range(len(names)), key=lambda j: -abs(float(contributions[j])))
            top = top[: P.TOP_CONTRIBUTIONS]
            explanation = [
                [names[j], round(float(values[j]), 4), round(float(contributions[j]), 4)]
                for j in top
                if round(float(contributions[j]), 4) != 0.0
            ]
            rules_fit = (
                AccountRuleScore.objects.filter(account_id=aid).values_list("fit", flat=True).first() or 0.0
            )
            fit = float(P.profile_fit(scorer, frame, np.array([rules_fit], dtype=float))[0])
            fit_band = str(P.bands(np.array([fit]), policy.fit_high_min, policy.fit_medium_min)[0])
            p_band = str(P.bands(np.array([p]), policy.in_market_high_min, policy.in_market_medium_min)[0])
            is_qualified = bool(P.qualified(policy, np.array([fit_band]), np.array([p_band]))[0])
            current = AccountModelScore.objects.filter(account_id=aid).first()
            now = timezone.now()
            days = (now - current.stage_since).total_seconds() / 86400.0 if current else 0.0
            opened = (
                Opportunity.objects.filter(account_id=aid, created_date__lte=as_of)
                .exclude(stage__in=list(CLOSED_STAGES))
                .exists()
            )
            stage, reason = stage_engine.decide(
                stage_policy, current=np.array([current.stage if current else ""], dtype=object),
                days_in_stage=np.array([days]), p=np.array([p]), activity_30d=_one(frame, "all_30d"),
                research_30d=_one(frame, "research_30d"),
                engaged_people_30d=_one(frame, "engaged_contacts_30d"),
                high_intent_30d=_one(frame, "high_intent_30d"), open_opportunity=np.array([opened]),
            )  # fmt: skip
            stage, reason = str(stage[0]), str(reason[0])
            AccountModelScore.objects.update_or_create(
                account_id=aid,
                defaults={
                    "model_id": model.pk,
                    "fit_model_id": scorer.fit_model.pk if scorer.fit_model else None,
                    "policy_id": policy.pk,
                    "as_of": as_of,
                    "profile_fit": fit,
                    "fit_band": fit_band,
                    "in_market": p,
                    "in_market_band": p_band,
                    "qualified": is_qualified,
                    "stage": stage,
                    "stage_since": now if reason or current is None else current.stage_since,
                    "contributions": explanation,
                    "scored_at": now,
                },
            )
            AccountModelScoreHistory.objects.create(
                account_id=aid, model_id=model.pk, policy_id=policy.pk, as_of=as_of, scored_at=now,
                profile_fit=fit, in_market=p, qualified=is_qualified, stage=stage,
            )  # fmt: skip
            if reason:
                BuyingStageTransition.objects.create(
                    account_id=aid, from_stage=current.stage if current else "", to_stage=stage, at=now,
                    in_market=p, reason=reason, model_id=model.pk, policy_id=policy.pk,
                )  # fmt: skip
            results[aid] = (p, fit, fit_band, p_band, is_qualified, stage)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "queries": queries[0], "results": results}


def _one(frame, name: str):
    """A one-account frame's column as a one-value array (0 when the frame has no such column)."""
    import numpy as np

    return np.array([float(frame[name].iloc[0]) if name in frame else 0.0])


def _agreement(results: dict[int, tuple]) -> dict:
    """How many baseline results equal what the pipeline stored: the probability, and every score."""
    from scoring.models import AccountModelScore

    stored = {
        row[0]: row[1:]
        for row in AccountModelScore.objects.filter(account_id__in=list(results)).values_list(
            "account_id", "in_market", "profile_fit", "fit_band", "in_market_band", "qualified", "stage"
        )
    }
    same_p = sum(aid in stored and stored[aid][0] == values[0] for aid, values in results.items())
    same = sum(stored.get(aid) == tuple(values) for aid, values in results.items())
    return {"same_probability": same_p, "same_scores": same, "of": len(results)}


# --- the section ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    url = world.shared_database_url(args, args.learned_database_url)
    if bench_db.ready_url() not in (None, url):
        return world.in_own_process(
            "learned", args, own=("learned_", "rescore_seed"), url_flag="--learned-database-url", url=url,
            reseed=_reseed(args),
        )  # fmt: skip
    started = time.perf_counter()
    marker, reused = _world(args, url)
    world_s = time.perf_counter() - started
    from django.db import connection

    from accounts.models import Account

    as_of = datetime.date.fromisoformat(marker["end_date"]) - datetime.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        pg_version = cursor.fetchone()[0]
    counts = world._counts()
    processes = max(1, args.learned_processes)

    print("bench: learned setup: rules scores and champions (untimed) …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    world.world_reset(marker)
    clear_learned()
    pipeline_process(url, as_of, rules=True, models=False, processes=processes)
    rules_s = time.perf_counter() - started
    champions = champions_ensure(args, as_of)

    print("bench: learned baseline (per-account ORM loop) …", file=sys.stderr, flush=True)
    ids = list(Account.objects.order_by("id").values_list("id", flat=True))
    sample = random.Random(args.rescore_seed).sample(ids, min(len(ids), args.learned_baseline_sample))
    clear_learned()
    base = _baseline(as_of, sample)

    print("bench: learned phases in one process (with a breakdown) …", file=sys.stderr, flush=True)
    clear_learned()
    learned_single = learned = pipeline_process(url, as_of, rules=False, processes=1, steps=True)
    repeats = max(1, args.learned_repeats)
    if processes > 1:
        print(f"bench: learned phases in {processes} processes, {repeats}× …", file=sys.stderr, flush=True)
        learned = _median_run(
            repeats, clear_learned, lambda: pipeline_process(url, as_of, rules=False, processes=processes)
        )

    print(
        f"bench: full pipeline (rules + learned) in {processes} processes, {repeats}× …",
        file=sys.stderr,
        flush=True,
    )
    full = _median_run(
        repeats,
        lambda: (world.world_reset(marker), clear_learned()),
        lambda: pipeline_process(url, as_of, rules=True, processes=processes),
    )
    agree = _agreement(base["results"])
    print("bench: full pipeline again, nothing changed …", file=sys.stderr, flush=True)
    second = pipeline_process(url, as_of, rules=True, processes=processes)
    profile = None
    if args.learned_profile:
        print("bench: profiling a learned rescore …", file=sys.stderr, flush=True)
        profile = _profile(args.learned_profile, as_of)

    population = counts["accounts"]
    per_account = base["seconds"] / len(sample) if sample else 0.0
    extrapolated = per_account * population
    account_phase = learned["phases_s"].get("account_models")
    speedup = round(extrapolated / account_phase, 1) if account_phase and extrapolated else None
    speedup_whole = round(extrapolated / full["seconds"], 1) if full["seconds"] and extrapolated else None
    loads = [full["load_average_before"][0], learned["load_average_before"][0]]
    result = {
        "database": {"url": url, "postgresql": pg_version},
        "world": {
            "accounts_flag": marker["accounts"],
            "seed": marker["seed"],
            **counts,
            "reused": reused,
            "seeded_at": marker["seeded_at"],
            "world_seconds": round(world_s, 1),
            "as_of": as_of.isoformat(),
        },
        "setup": {"rules_rescore_seconds": round(rules_s, 1), "champions": champions},
        "learned_rescore_single_process": learned_single,
        **({"learned_rescore": learned} if processes > 1 else {}),
        "full_rescore": full,
        "second_run_unchanged": second,
        "baseline": {
            "method": "per account: account_features(account_ids=[id]), booster.predict, pred_contribs "
            "(top five), rules fit, profile fit, bands, stage through the ORM, update_or_create of "
            "AccountModelScore and a history row (autocommit)",
            "sample": len(sample),
            "seconds": round(base["seconds"], 2),
            "ms_per_account": round(1000 * per_account, 2),
            "queries_per_account": round(base["queries"] / len(sample), 1) if sample else None,
            "population": population,
            "extrapolated_seconds": round(extrapolated, 1),
            "agreement_with_full_rescore": agree,
        },
        "speedup": speedup,
        "speedup_note": "extrapolated baseline / the account_models phase of the learned rescore in "
        f"{processes} process(es) (the same work); speedup_vs_whole_pipeline divides by the headline, "
        "which also scores every contact by rules and persona fit",
        "speedup_vs_whole_pipeline": speedup_whole,
        "targets": {
            "full_rescore_seconds": TARGET_SECONDS,
            "speedup": TARGET_SPEEDUP,
            # The whole nightly pipeline: the rules scores of every contact and account again, then the
            # learned scores.
            "full_rescore_seconds_met": full["seconds"] <= TARGET_SECONDS,
            # The learned rescore alone (features, prediction, SHAP, write-back of every account and
            # contact), in as many processes as the headline.
            "learned_rescore_seconds": learned["seconds"],
            "learned_rescore_seconds_met": learned["seconds"] <= TARGET_SECONDS,
            "speedup_met": bool(speedup and speedup >= TARGET_SPEEDUP),
        },
    }
    result.update(bench_db.load_warning(max(loads), "before the timed runs"))
    if profile:
        result["profile"] = profile
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--pipeline":
        _pipeline_main(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: python -m bench --only learned (this module runs one timed rescore with --pipeline)")
