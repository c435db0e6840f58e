"""Revenue plans benchmark: a plan's history (``plans.selectors.history_compute``) and its attainment with
the forecast (``plans.selectors.plan_attainment``, the in-market expectation over every account included)
at 100,000 accounts, each against a plain per-opportunity / per-account ORM loop computing the same figures
in the same run, and the plan page (``GET /plans/<pk>/``) once computed.

The world is this section's own and small enough to build on every run (the database is dropped and
recreated, then migrated): ``--plans-accounts`` accounts (100,000) with stored learned scores
(``AccountModelScore``: in-market probability and band by the published qualification policy's
thresholds, fit, stage; COPYed, as the learned pipeline writes them set-based), and ``--plans-opportunities``
opportunities (300,000) created over the 18 months to today across the six default channels (each with its
own share, win rate, deal size and cycle): closed won or lost when their close date has passed, open
otherwise; a few created only as "engaged" (Maven's export), without an amount or without a channel, as
real CRM data is. Then the database is analyzed, and a plan is drafted from the history of the twelve
months before its period (``plan_draft_create``), proposed, approved by a marketing lead and a sales lead
and published, through the services: the quarter whose creation window (the period shifted back one
cycle) holds today, so that its forecast still looks ahead and counts the accounts in market.

Timed, each selector ``--plans-repeats`` times (the median reported), each baseline once:

1. history: ``history_compute`` for the plan's twelve-month window against a loop over every opportunity
   as a model instance (the same figures: won, lost, win rate, deal size, cycle, per channel the pipeline
   created and the deals won and lost, through the same pure ``plans.engine.history_figures``);
2. attainment: ``plan_attainment`` of the published plan against a loop over every opportunity (the
   pipeline created by month and channel in the creation window) and over every account (its stored
   score and whether it has an open opportunity: the in-market expectation), then the same
   ``plans.engine.forecast``; ``in_market_expected`` alone too;
3. the plan page as a signed-in sales lead through Django's test client: p50/p95 over
   ``--plans-page-requests`` after two warm-ups.

A ratio is reported only when the baseline's figures agree with the selector's (counts exactly, amounts to
1e-9 relative: sums taken in another order); otherwise ``speedup`` is null and the differences are listed.

4. playbook triggering after a full rescore (``playbook_trigger_after_rescore``; off with
   ``--no-plans-playbook-trigger``): one published playbook per buying stage with demo/playbooks.py's plays
   (a 21-touch cadence for decision …), then two rounds of stage transitions COPYed as a rescore's stage
   phase writes them — every account enters a stage, then ``--plans-playbook-regress-share`` (20%) of them
   fall back one — each acted on by a plain per-transition loop (``.save()`` per run, task and action; in a
   transaction rolled back afterwards) and then by ``playbooks.triggers.plays_trigger`` on the same state;
   runs by status, tasks by status, actions by kind and the cursor compared.

Django is imported inside functions: ``python -m bench`` imports every section before it points Django at
the bench database (``bench.db.django_ready``).
"""

import argparse
import datetime
import math
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import rescore as world
from .db import database_recreate, django_ready, load_warning, percentile, queries_counted, ready_url

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/revops_bench_plans"
TARGET_PAGE_MS = 300
HISTORY_DAYS = 548  # 18 months of opportunities, to today

ACCOUNT_PREFIX = "Bench plan account"
USER_PREFIX = "bench-plans-"
# The six default channels: share of the opportunities, win rate, median deal size, median cycle (days).
CHANNEL_MIX = {
    "inbound": (0.30, 0.28, 14_000, 45),
    "outbound": (0.24, 0.17, 21_000, 70),
    "events": (0.12, 0.22, 17_000, 60),
    "partners": (0.10, 0.34, 29_000, 80),
    "upsell": (0.14, 0.52, 11_000, 35),
    "direct": (0.08, 0.38, 42_000, 95),
}
NO_CHANNEL = 0.02  # opportunities without a channel
NO_AMOUNT = 0.03  # … without an amount (counted at the plan's deal size)
ENGAGED_ONLY = 0.06  # … with an engaged date but no created date (as in Maven's export)
OPEN_STAGES = ["prospecting", "engaging", "proposal", "negotiation"]
INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Energy", "Media"]
COUNTRIES = ["US", "GB", "DE", "FR", "BR", "TH", "RU", "CA"]


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--plans-database-url",
        help="PostgreSQL database of this section's world, dropped and rebuilt on every run (default: "
        f"$BENCH_PLANS_DATABASE_URL or {DEFAULT_DATABASE_URL}); its name must contain 'bench'",
    )
    group.add_argument(
        "--plans-accounts", type=int, default=100_000, help="accounts, each with a stored score"
    )
    group.add_argument(
        "--plans-opportunities",
        type=int,
        default=300_000,
        help="opportunities created over the 18 months to today, across the six channels",
    )
    group.add_argument("--plans-seed", type=int, default=42, help="seed of the world")
    group.add_argument(
        "--plans-repeats", type=int, default=5, help="runs of each selector: the median is reported"
    )
    group.add_argument("--plans-page-requests", type=int, default=20, help="timed requests of the plan page")
    group.add_argument(
        "--plans-playbook-trigger",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="playbook triggering after a full rescore: a stage transition per account, plays_trigger "
        "against a per-transition loop (on by default)",
    )
    group.add_argument(
        "--plans-playbook-regress-share",
        type=float,
        default=0.2,
        help="share of the accounts that fall back one stage in the second round of transitions",
    )
    group.add_argument(
        "--plans-profile",
        metavar="FILE",
        help="also profile one more history_compute and plan_attainment (cProfile) to FILE; top functions "
        "in the JSON",
    )


def _database_url(args: argparse.Namespace) -> str:
    from psycopg.conninfo import conninfo_to_dict

    url = args.plans_database_url or os.environ.get("BENCH_PLANS_DATABASE_URL") or DEFAULT_DATABASE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"The plans benchmark needs PostgreSQL, not {url!r}.")
    if "bench" not in (conninfo_to_dict(url).get("dbname") or ""):
        raise SystemExit(f"Refusing to use {url!r}: the database name must contain 'bench'.")
    return url


def _median_seconds(repeats: int, call: Callable[[], Any]) -> tuple[float, list[float], Any]:
    """Run ``call`` ``repeats`` times: the median seconds, every run's, and the last result."""
    runs, result = [], None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        result = call()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs, result


# --- the world ------------------------------------------------------------------------------------------
def world_build(*, accounts: int, opportunities: int, seed: int, today: datetime.date) -> dict:
    """Accounts with stored scores and opportunities over the 18 months to ``today``, COPYed (batched
    inserts on SQLite); returns what was written."""
    import numpy as np
    from django.db import connection, transaction
    from django.db.models import Max

    from accounts.models import Account, Channel, Opportunity
    from revops.bulk import bulk_insert
    from scoring.choices import Band, BuyingStage
    from scoring.models import AccountModelScore
    from scoring.policy import policy_published

    rng = np.random.default_rng([seed, 0x91A5])
    policy = policy_published()
    if policy is None:
        raise SystemExit("No published qualification policy: the migrations ship one; migrate first.")
    now = datetime.datetime.now(datetime.UTC)
    channels = dict(Channel.objects.filter(slug__in=list(CHANNEL_MIX)).values_list("slug", "pk"))
    missing = sorted(set(CHANNEL_MIX) - set(channels))
    if missing:
        raise SystemExit(f"The default channels {missing} are missing: the migrations create them.")
    started = time.perf_counter()
    with transaction.atomic():
        before = Account.objects.aggregate(n=Max("pk"))["n"] or 0
        bulk_insert(
            Account._meta.db_table,
            ["name", "industry", "employee_count", "country", "custom", "created", "updated"],
            (
                (
                    f"{ACCOUNT_PREFIX} {n:06d}",
                    INDUSTRIES[int(i)],
                    int(e),
                    COUNTRIES[int(c)],
                    {},
                    now,
                    now,
                )
                for n, (i, e, c) in enumerate(
                    zip(
                        rng.integers(0, len(INDUSTRIES), accounts),
                        np.clip(rng.lognormal(5.5, 1.6, accounts), 1, 500_000),
                        rng.integers(0, len(COUNTRIES), accounts),
                        strict=True,
                    )
                )
            ),
        )
        ids = np.array(
            Account.objects.filter(pk__gt=before, name__startswith=ACCOUNT_PREFIX)
            .order_by("pk")
            .values_list("pk", flat=True),
            dtype=np.int64,
        )

        # Scores: in market mostly low (Beta(0.6, 4): mean 0.13), bands by the policy's thresholds.
        in_market = rng.beta(0.6, 4.0, len(ids))
        fit = rng.uniform(0, 100, len(ids))

        def band(value: float, high: float, medium: float) -> str:
            return Band.HIGH if value >= high else Band.MEDIUM if value >= medium else Band.LOW

        stages = [BuyingStage.TARGET, BuyingStage.AWARENESS, BuyingStage.CONSIDERATION, BuyingStage.DECISION]
        scores = []
        for pk, p, f in zip(ids.tolist(), in_market.tolist(), fit.tolist(), strict=True):
            market_band = band(p, policy.in_market_high_min, policy.in_market_medium_min)
            fit_band = band(f, policy.fit_high_min, policy.fit_medium_min)
            qualified = market_band != Band.LOW and fit_band != Band.LOW
            stage = stages[min(3, int(p * 10))]
            scores.append((pk, policy.pk, today, f, fit_band, p, market_band, qualified, stage, now, [], now))
        bulk_insert(
            AccountModelScore._meta.db_table,
            [
                "account_id",
                "policy_id",
                "as_of",
                "profile_fit",
                "fit_band",
                "in_market",
                "in_market_band",
                "qualified",
                "stage",
                "stage_since",
                "contributions",
                "scored_at",
            ],
            scores,
        )

        # Opportunities: created uniformly over the 18 months; closed (won by the channel's win rate) when
        # their close date has passed, open otherwise.
        slugs = list(CHANNEL_MIX)
        mix = np.array([CHANNEL_MIX[s][0] for s in slugs])
        channel_index = rng.choice(len(slugs), size=opportunities, p=mix / mix.sum())
        win = np.array([CHANNEL_MIX[s][1] for s in slugs])[channel_index]
        size = np.array([CHANNEL_MIX[s][2] for s in slugs])[channel_index]
        cycle_median = np.array([CHANNEL_MIX[s][3] for s in slugs])[channel_index]
        opened = rng.integers(0, HISTORY_DAYS + 1, opportunities)  # days before today
        cycle = np.clip(np.round(cycle_median * rng.lognormal(0, 0.5, opportunities)), 3, 365).astype(int)
        amount = np.round(size * rng.lognormal(0, 0.6, opportunities), 2)
        won = rng.random(opportunities) < win
        no_channel = rng.random(opportunities) < NO_CHANNEL
        no_amount = rng.random(opportunities) < NO_AMOUNT
        engaged_only = rng.random(opportunities) < ENGAGED_ONLY
        owner = rng.choice(ids, size=opportunities)
        open_stage = rng.integers(0, len(OPEN_STAGES), opportunities)
        stage_counts: Counter = Counter()
        rows = []
        for n in range(opportunities):
            created = today - datetime.timedelta(days=int(opened[n]))
            closes = created + datetime.timedelta(days=int(cycle[n]))
            stage = ("won" if won[n] else "lost") if closes <= today else OPEN_STAGES[int(open_stage[n])]
            stage_counts[stage] += 1
            rows.append(
                (
                    int(owner[n]),
                    f"Bench deal {n + 1}",
                    None if no_amount[n] else Decimal(f"{amount[n]:.2f}"),
                    stage,
                    None if engaged_only[n] else created,
                    created if engaged_only[n] else None,
                    closes,
                    None if no_channel[n] else channels[slugs[int(channel_index[n])]],
                    now,
                    now,
                )
            )
        bulk_insert(
            Opportunity._meta.db_table,
            [
                "account_id",
                "name",
                "amount",
                "stage",
                "created_date",
                "engaged_date",
                "close_date",
                "channel_id",
                "created",
                "updated",
            ],
            rows,
        )
    build_s = time.perf_counter() - started
    analyze_s = 0.0
    if connection.vendor == "postgresql":  # statistics of what was just written, as autovacuum would have
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for model in (Account, AccountModelScore, Opportunity):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        analyze_s = time.perf_counter() - started
    return {
        "accounts": len(ids),
        "scores": len(scores),
        "in_market_qualified": int(
            sum(1 for s in scores if s[7])  # before excluding accounts with an open deal
        ),
        "opportunities": opportunities,
        "stages": dict(sorted(stage_counts.items())),
        "without_channel": int(no_channel.sum()),
        "without_amount": int(no_amount.sum()),
        "engaged_date_only": int(engaged_only.sum()),
        "first_day": (today - datetime.timedelta(days=HISTORY_DAYS)).isoformat(),
        "last_day": today.isoformat(),
        "build_seconds": round(build_s, 1),
        "analyze_seconds": round(analyze_s, 1),
    }


def _user(username: str, kind: str, role: str):
    from django.contrib.auth import get_user_model

    from revops import services
    from revops.models import Team

    user, _ = get_user_model().objects.get_or_create(
        username=f"{USER_PREFIX}{username}", defaults={"email": f"{username}@bench.example.com"}
    )
    team = Team.objects.filter(kind=kind).order_by("pk").first()
    if team is None:
        team = services.team_create(actor=None, name=f"Bench {kind}", kind=kind)
    services.membership_set(actor=None, user=user, team=team, role=role)
    return user


def plan_published(*, today: datetime.date):
    """The plan of the quarter whose creation window (the period shifted back one sales cycle) holds
    today, so that the forecast still has days ahead and counts the accounts in market; drafted from the
    twelve months before it (its channels as the history suggests, a target of the history's quarterly
    won revenue plus 50 %), signed off by a marketing lead and a sales lead and published, through the
    services. Returns (plan, a sales lead who views it)."""
    from plans import services
    from plans.choices import PeriodKind
    from plans.models import RevenuePlan
    from plans.selectors import history_compute
    from revops.choices import Role, TeamKind

    proposer = _user("marketing-lead", TeamKind.MARKETING, Role.LEAD)
    marketing = _user("marketing-lead-2", TeamKind.MARKETING, Role.LEAD)
    sales = _user("sales-lead", TeamKind.SALES, Role.LEAD)
    cycle = history_compute(start=today - datetime.timedelta(days=365), end=today)["cycle_days"] or 0
    ahead = today + datetime.timedelta(days=round(cycle))
    start = ahead.replace(day=1, month=(ahead.month - 1) // 3 * 3 + 1)
    plan = services.plan_draft_create(user=proposer, period_kind=PeriodKind.QUARTER, period_start=start)
    history = plan.history_figures
    quarterly = (history.get("won") or 0) * (history.get("deal_size") or 0) / 4
    target = Decimal(max(round(quarterly * 1.5, -3), 1000))
    plan = services.plan_update(
        plan=plan, user=proposer, data={"revenue_target": target}, expected_revision=plan.revision
    )
    services.plan_propose(plan=plan, user=proposer)
    for lead in (sales, marketing):
        services.plan_approve(plan=RevenuePlan.objects.get(pk=plan.pk), user=lead)
    plan = services.plan_publish(plan=RevenuePlan.objects.get(pk=plan.pk), user=sales)
    return RevenuePlan.objects.get(pk=plan.pk), sales


# --- agreement ------------------------------------------------------------------------------------------
def figures_differences(ours: Any, theirs: Any, path: str = "") -> list[dict]:
    """Where two JSON-like structures differ: keys, lengths and values (floats to 1e-9 relative, the
    order of a sum moves the last bits; everything else exactly)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs), key=str):
            if key not in ours or key not in theirs:
                out.append({"at": f"{path}/{key}", "baseline": ours.get(key), "selector": theirs.get(key)})
            else:
                out += figures_differences(ours[key], theirs[key], f"{path}/{key}")
        return out
    if isinstance(ours, list | tuple) and isinstance(theirs, list | tuple):
        if len(ours) != len(theirs):
            return [{"at": path, "baseline": f"{len(ours)} items", "selector": f"{len(theirs)} items"}]
        return [
            d
            for n, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in figures_differences(a, b, f"{path}/{n}")
        ]
    if isinstance(ours, float) or isinstance(theirs, float):
        if ours is None or theirs is None or isinstance(ours, bool) or isinstance(theirs, bool):
            same = ours == theirs
        else:
            same = math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-6)
    else:
        same = ours == theirs
    return [] if same else [{"at": path, "baseline": ours, "selector": theirs}]


def _agreement(ours: Any, theirs: Any) -> dict:
    differences = figures_differences(ours, theirs)
    return {"agree": not differences, **({"differences": differences[:10]} if differences else {})}


# --- the baselines: one opportunity, one account at a time ----------------------------------------------
def history_baseline(*, start: datetime.date, end: datetime.date) -> dict:
    """``history_compute``'s figures by a loop over every opportunity (a model instance each)."""
    from accounts.models import Opportunity
    from plans import engine
    from plans.selectors import UNASSIGNED

    won = lost = 0
    won_amounts: list[Decimal] = []
    cycles: list[int] = []
    closed: dict[str, dict[str, int]] = defaultdict(lambda: {"won": 0, "lost": 0})
    priced: dict[str, Decimal] = defaultdict(Decimal)
    unpriced: dict[str, int] = defaultdict(int)
    created: set[str] = set()  # channels that created pipeline in the window
    with queries_counted() as queries:
        started = time.perf_counter()
        for opportunity in Opportunity.objects.order_by("pk").iterator(chunk_size=2000):
            key = str(opportunity.channel_id) if opportunity.channel_id else UNASSIGNED
            opened = opportunity.created_date or opportunity.engaged_date
            close = opportunity.close_date
            if opportunity.stage in ("won", "lost") and close is not None and start <= close <= end:
                if opportunity.stage == "won":
                    won += 1
                    closed[key]["won"] += 1
                    if opportunity.amount is not None:
                        won_amounts.append(opportunity.amount)
                else:
                    lost += 1
                    closed[key]["lost"] += 1
                if opened is not None:
                    cycles.append((close - opened).days)
            if opened is not None and start <= opened <= end:
                created.add(key)
                if opportunity.amount is None:
                    unpriced[key] += 1
                else:
                    priced[key] += opportunity.amount
        figures = engine.history_figures(won=won, lost=lost, won_amounts=won_amounts, cycle_days=cycles)
        channels = {}
        for key in sorted(set(closed) | created):
            pipeline = 0.0
            if key in created:
                pipeline += float(priced[key]) + float(unpriced[key]) * (figures.deal_size or 0)
            channels[key] = {"pipeline": pipeline, "won": closed[key]["won"], "lost": closed[key]["lost"]}
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "queries": queries[0],
        "figures": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            **figures.as_dict(),
            "unpriced_opportunities": sum(unpriced.values()),
            "channels": channels,
        },
    }


def attainment_baseline(plan, figures, *, today: datetime.date) -> dict:
    """``plan_attainment``'s figures by a loop over every opportunity (created by month and channel in the
    creation window) and every account (its stored score, whether it has an open deal), then the same
    forecast. Only for a company-wide plan (no team, no segment), as this section publishes."""
    from accounts.choices import OPEN_STAGES as OPEN
    from accounts.models import Account, Channel, Opportunity
    from plans import engine
    from plans.selectors import UNASSIGNED, Attainment
    from scoring.models import AccountModelScore

    if plan.team_id or plan.segment_id:
        raise ValueError("The baseline computes company-wide plans only.")
    start, end = figures.creation_window  # the period shifted back one cycle
    last = min(end, today)
    priced: dict[tuple, Decimal] = defaultdict(Decimal)
    unpriced: dict[tuple, int] = defaultdict(int)
    count: dict[tuple, int] = defaultdict(int)
    with queries_counted() as queries:
        started = time.perf_counter()
        for opportunity in Opportunity.objects.order_by("pk").iterator(chunk_size=2000):
            opened = opportunity.created_date or opportunity.engaged_date
            if opened is None or not start <= opened <= last:
                continue
            key = (
                opened.replace(day=1),
                str(opportunity.channel_id) if opportunity.channel_id else UNASSIGNED,
            )
            count[key] += 1
            if opportunity.amount is None:
                unpriced[key] += 1
            else:
                priced[key] += opportunity.amount
        pipeline = {k: float(priced[k]) + unpriced[k] * figures.deal_size for k in count}
        opportunities_s = time.perf_counter() - started
        in_market = []
        for account in Account.objects.order_by("pk").iterator(chunk_size=2000):
            score = AccountModelScore.objects.filter(account_id=account.pk).first()
            if score is None or not score.qualified:  # in market: qualified (scoring.metrics)
                continue
            if Opportunity.objects.filter(account_id=account.pk, stage__in=OPEN).exists():
                continue
            in_market.append((score.in_market, figures.deal_size))
        accounts_s = time.perf_counter() - started - opportunities_s
        names = {str(c.pk): c.name for c in Channel.objects.all()}
        names[UNASSIGNED] = "No channel"
        by_month: dict[datetime.date, float] = defaultdict(float)
        for (month, _), value in pipeline.items():
            by_month[month] += value
        outlook = engine.forecast(
            start=start, end=end, today=today, created_by_month=by_month, in_market=in_market
        )
        attainment = Attainment(
            months=engine.months_between(start, end),
            pipeline=pipeline,
            count=dict(count),
            unpriced=sum(unpriced.values()),
            channel_names=names,
            forecast=outlook,
            in_market_accounts=len(in_market),
        )
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "opportunities_seconds": opportunities_s,
        "accounts_seconds": accounts_s,
        "queries": queries[0],
        "attainment": attainment,
    }


# --- the measurements -----------------------------------------------------------------------------------
def _history(plan, repeats: int) -> dict:
    from plans.selectors import history_compute

    start, end = plan.history_start, plan.history_end
    print(f"bench: plans: history {start}–{end}: baseline …", file=sys.stderr, flush=True)
    base = history_baseline(start=start, end=end)
    print(f"bench: plans: history_compute, {repeats}× …", file=sys.stderr, flush=True)
    with queries_counted() as queries:
        seconds, runs, result = _median_seconds(repeats, lambda: history_compute(start=start, end=end))
    result.pop("computed_at", None)
    agreement = _agreement(base["figures"], result)
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "seconds": round(seconds, 4),
        "runs_s": [round(r, 4) for r in runs],
        "queries": queries[0] // max(1, repeats),
        "figures": {k: result[k] for k in ("won", "lost", "win_rate", "deal_size", "cycle_days", "cycles")},
        "channels": len(result["channels"]),
        "baseline": {
            "method": "every opportunity as a model instance (Opportunity.objects.iterator), its figures in "
            "Python, the same plans.engine.history_figures",
            "seconds": round(base["seconds"], 2),
            "queries": base["queries"],
        },
        "agreement": agreement,
        "speedup": round(base["seconds"] / seconds, 1) if agreement["agree"] and seconds else None,
    }


def _attainment(plan, repeats: int, today: datetime.date) -> dict:
    from plans.reports import attainment_as_dict
    from plans.selectors import in_market_expected, plan_attainment, plan_figures

    figures = plan_figures(plan)
    if not figures.ready:
        raise SystemExit(f"The bench plan cannot be computed: {figures.problems}")
    print(
        "bench: plans: attainment baseline (every opportunity, every account) …", file=sys.stderr, flush=True
    )
    base = attainment_baseline(plan, figures, today=today)
    print(f"bench: plans: plan_attainment, {repeats}× …", file=sys.stderr, flush=True)
    with queries_counted() as queries:
        seconds, runs, attainment = _median_seconds(
            repeats, lambda: plan_attainment(plan, figures, today=today)
        )
    in_market_s, _, (_, in_market_accounts) = _median_seconds(
        repeats, lambda: in_market_expected(deal_size=figures.deal_size, segment_id=plan.segment_id)
    )
    figures_s, _, _ = _median_seconds(repeats, lambda: plan_figures(plan))
    ours = attainment_as_dict(plan, figures, base["attainment"])
    theirs = attainment_as_dict(plan, figures, attainment)
    agreement = _agreement(ours, theirs)
    outlook = attainment.forecast
    return {
        "plan": {
            "pk": plan.pk,
            "period": plan.scope_label,
            "status": plan.status,
            "revenue_target": float(plan.revenue_target),
            "pipeline_needed": figures.pipeline,
            "creation_window": [day.isoformat() for day in figures.creation_window],
            "today_in_creation_window": figures.creation_window[0] <= today <= figures.creation_window[1],
            "channels": len(figures.channels),
        },
        "seconds": round(seconds, 4),
        "runs_s": [round(r, 4) for r in runs],
        "queries": queries[0] // max(1, repeats),
        "in_market_expected_seconds": round(in_market_s, 4),
        "plan_figures_seconds": round(figures_s, 4),
        "figures": {
            "created": round(attainment.total, 2),
            "opportunities_created": attainment.total_count,
            "attainment": round(attainment.total / figures.pipeline, 4) if figures.pipeline else None,
            "in_market_accounts": in_market_accounts,
            "in_market_expected": round(outlook.in_market, 2),
            "forecast_expected": round(outlook.expected, 2),
            "forecast_95": [round(outlook.low, 2), round(outlook.high, 2)],
        },
        "baseline": {
            "method": "every opportunity as a model instance (created by month and channel in the creation "
            "window), then every account: its AccountModelScore (.first()) and whether it has an open "
            "opportunity (.exists()), two queries an account; the same plans.engine.forecast",
            "seconds": round(base["seconds"], 2),
            "opportunities_seconds": round(base["opportunities_seconds"], 2),
            "accounts_seconds": round(base["accounts_seconds"], 2),
            "queries": base["queries"],
        },
        "agreement": agreement,
        "speedup": round(base["seconds"] / seconds, 1) if agreement["agree"] and seconds else None,
    }


def plan_page(plan, user, requests: int) -> dict:
    """GET /plans/<pk>/ as ``user`` through Django's test client, ``requests`` times after two warm-ups."""
    from django.test import Client
    from django.urls import reverse

    path = reverse("plans:plan_detail", kwargs={"pk": plan.pk})
    client = Client()
    client.force_login(user)
    statuses: Counter = Counter()
    latencies, sizes, queries_each = [], [], []
    for n in range(2 + max(1, requests)):
        with queries_counted() as queries:
            started = time.perf_counter()
            response = client.get(path)
            seconds = time.perf_counter() - started
        statuses[response.status_code] += 1
        if n >= 2:
            latencies.append(seconds)
            sizes.append(len(response.content))
            queries_each.append(queries[0])
    latencies.sort()
    ok = set(statuses) == {200}
    return {
        "client": "django.test.Client (in-process: middleware, session, view, template), signed in as a "
        "sales lead",
        "path": path,
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1) if ok else None,
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1) if ok else None,
        "max_ms": round(1000 * latencies[-1], 1),
        "bytes": max(sizes),
        "queries_per_request": max(queries_each),
    }


# --- playbook triggering after a full rescore -----------------------------------------------------------
PLAYBOOK_STAGE_MIX = {
    "target": 0.10,
    "awareness": 0.35,
    "consideration": 0.27,
    "decision": 0.18,
    "purchase": 0.10,
}
PLAYBOOK_BOOK_NAME = "Bench playbook"


def playbooks_published() -> dict[str, int]:
    """One published playbook per buying stage with demo/playbooks.py's plays (a display-ad audience, a
    content hub and the buying team's enrichment, a 21-touch BDR cadence, a meeting and direct mail),
    created directly as published rows; returns stage → plays."""
    from accounts.models import Channel
    from demo.playbooks import PLAYS
    from playbooks.models import Play, Playbook
    from revops.choices import VersionStatus

    channels = dict(Channel.objects.values_list("slug", "pk"))
    now = datetime.datetime.now(datetime.UTC)
    created = {}
    for stage, plays in PLAYS.items():
        book = Playbook.objects.create(
            number=1,
            name=f"{PLAYBOOK_BOOK_NAME}: {stage}",
            stage=stage,
            status=VersionStatus.PUBLISHED,
            published_at=now,
        )
        for position, fields in enumerate(plays, start=1):
            values = dict(fields)
            slug = values.pop("channel", None)
            Play.objects.create(playbook=book, position=position, channel_id=channels.get(slug), **values)
        created[str(stage)] = len(plays)
    return created


def stage_transitions_insert(*, round_no: int, share: float, seed: int, previous: dict[int, str]) -> dict:
    """One recent ``BuyingStageTransition`` per account, set-based (COPY on PostgreSQL), as a full rescore's
    stage phase writes them. Round 1: every account enters a stage of ``PLAYBOOK_STAGE_MIX`` from its stored
    one; later rounds: ``share`` of the accounts of ``previous`` (account → stage) fall back one stage.
    Returns account → the stage entered (``to``) and the counts by stage."""
    import numpy as np

    from revops.bulk import bulk_insert
    from scoring.choices import BUYING_STAGE_ORDER
    from scoring.models import AccountModelScore, BuyingStageTransition
    from scoring.policy import policy_published

    rng = np.random.default_rng([seed, 0x9B00, round_no])
    policy = policy_published()
    now = datetime.datetime.now(datetime.UTC)
    if round_no == 1:
        stored = dict(AccountModelScore.objects.order_by("account_id").values_list("account_id", "stage"))
        stages, weights = list(PLAYBOOK_STAGE_MIX), np.array(list(PLAYBOOK_STAGE_MIX.values()))
        picks = rng.choice(len(stages), size=len(stored), p=weights / weights.sum())
        moves = {a: (stored[a], stages[int(i)]) for a, i in zip(stored, picks.tolist(), strict=True)}
    else:
        movable = sorted(a for a, s in previous.items() if BUYING_STAGE_ORDER.index(s) > 0)
        chosen = rng.choice(movable, size=min(len(movable), round(share * len(previous))), replace=False)
        moves = {
            int(a): (previous[int(a)], BUYING_STAGE_ORDER[BUYING_STAGE_ORDER.index(previous[int(a)]) - 1])
            for a in sorted(chosen.tolist())
        }
    rows = [
        (a, frm if frm != to else "", to, now - datetime.timedelta(seconds=len(moves) - n), 0.4, "bench",
         policy.pk)
        for n, (a, (frm, to)) in enumerate(moves.items())
    ]  # fmt: skip
    started = time.perf_counter()
    bulk_insert(
        BuyingStageTransition._meta.db_table,
        ["account_id", "from_stage", "to_stage", "at", "in_market", "reason", "policy_id"],
        rows,
    )
    return {
        "to": {a: to for a, (_, to) in moves.items()},
        "transitions": len(rows),
        "by_stage": dict(sorted(Counter(to for _, to in moves.values()).items())),
        "insert_seconds": round(time.perf_counter() - started, 2),
    }


def playbook_counts() -> dict:
    """What the trigger left: runs by status, tasks by status, actions by kind, the cursor."""
    from django.db.models import Count

    from playbooks.models import PlayAction, PlaybookCursor, PlayRun, PlayTask
    from playbooks.triggers import CURSOR

    def by(model, name):
        return dict(sorted(model.objects.values_list(name).annotate(n=Count("id")).values_list(name, "n")))

    cursor = PlaybookCursor.objects.filter(name=CURSOR).values_list("last_transition_id", flat=True).first()
    return {
        "runs": by(PlayRun, "status"),
        "tasks": by(PlayTask, "status"),
        "actions": by(PlayAction, "action"),
        "cursor": cursor or 0,
    }


def trigger_baseline(*, now: datetime.datetime) -> dict:
    """``plays_trigger``'s work by a plain loop: every transition after the cursor as a model instance; per
    transition the account, whether it has an open deal or a won one, its open runs (each stop saved, its
    open tasks one by one, an action), the stage's published general playbook and its plays, the account's
    earlier runs of each play, then each run, task and action created with ``.save()``. The same pure
    ``playbooks.triggers.stops`` and ``suppression``; segment playbooks and webhooks are not handled (this
    section publishes none and configures none)."""
    from django.conf import settings
    from django.utils import timezone

    from accounts.choices import OPEN_STAGES as OPEN
    from accounts.choices import OpportunityStage
    from accounts.models import Account, Contact, Opportunity, Persona
    from playbooks.choices import AUDIENCE_KINDS, PlayKind, RunStatus, TaskStatus
    from playbooks.models import PlayAction, Playbook, PlaybookCursor, PlayRun, PlayTask
    from playbooks.triggers import CURSOR, stops, suppression
    from revops.choices import VersionStatus
    from revops.models import Membership, Team
    from scoring.models import BuyingStageTransition

    oldest = now - datetime.timedelta(days=getattr(settings, "PLAYBOOK_MAX_AGE_DAYS", 14))
    reentry = now - datetime.timedelta(days=getattr(settings, "PLAYBOOK_REENTRY_DAYS", 30))
    today = timezone.localdate(now)
    cursor, _ = PlaybookCursor.objects.get_or_create(name=CURSOR)
    transitions = 0
    with queries_counted() as queries:
        started = time.perf_counter()
        for t in (
            BuyingStageTransition.objects.filter(id__gt=cursor.last_transition_id)
            .order_by("id")
            .iterator(chunk_size=2000)
        ):
            transitions += 1
            cursor.last_transition_id = t.pk
            if t.at < oldest:
                continue
            account = Account.objects.filter(pk=t.account_id).first()
            if account is None:
                continue
            open_deal = Opportunity.objects.filter(account_id=account.pk, stage__in=OPEN).exists()
            customer = Opportunity.objects.filter(account_id=account.pk, stage=OpportunityStage.WON).exists()
            for run in PlayRun.objects.filter(account_id=account.pk, status=RunStatus.OPEN).select_related(
                "play"
            ):
                why = stops(run.play, run.stage, t.to_stage, open_deal=open_deal)
                if not why:
                    continue
                run.status, run.ended_at, run.reason = RunStatus.STOPPED, now, why[:300]
                run.save()
                for task in PlayTask.objects.filter(run=run, status=TaskStatus.OPEN):
                    task.status = TaskStatus.STOPPED
                    task.save()
                PlayAction(
                    run=run, at=now, action="stopped", detail={"reason": why, "transition": t.pk}
                ).save()
            book = Playbook.objects.filter(
                stage=t.to_stage, segment__isnull=True, status=VersionStatus.PUBLISHED
            ).first()
            if book is None:
                continue
            for play in book.plays.order_by("position", "id"):
                earlier = list(PlayRun.objects.filter(account_id=account.pk, play=play))
                if any(r.transition_id == t.pk for r in earlier):
                    continue
                if any(r.status in (RunStatus.OPEN, RunStatus.DONE) for r in earlier):
                    continue
                recent = [r for r in earlier if r.status == RunStatus.STOPPED and r.started_at >= reentry]
                if recent:
                    run = max(recent, key=lambda r: r.started_at)
                    run.status, run.ended_at, run.reason = RunStatus.OPEN, None, ""
                    run.save()
                    for task in PlayTask.objects.filter(run=run, status=TaskStatus.STOPPED):
                        task.status = TaskStatus.OPEN
                        task.save()
                    PlayAction(run=run, at=now, action="resumed", detail={"transition": t.pk}).save()
                    continue
                suppressed = suppression(play, customer=customer, open_deal=open_deal)
                owner = None
                if (
                    account.owner_id
                    and Membership.objects.filter(
                        user_id=account.owner_id, team__kind=play.team_kind
                    ).exists()
                ):
                    owner = account.owner_id
                team = None
                if account.owner_team_id and account.owner_team.kind == play.team_kind:
                    team = account.owner_team_id
                else:
                    first = Team.objects.filter(kind=play.team_kind).order_by("name").first()
                    team = first.pk if first else None
                run = PlayRun(
                    play=play,
                    account=account,
                    transition_id=t.pk,
                    stage=t.to_stage,
                    status=RunStatus.SUPPRESSED if suppressed else RunStatus.OPEN,
                    started_at=now,
                    ended_at=now if suppressed else None,
                    reason=suppressed or "",
                    owner_id=owner,
                    team_id=team,
                )
                run.save()
                if suppressed:
                    PlayAction(
                        run=run,
                        at=now,
                        action="suppressed",
                        detail={"reason": suppressed, "transition": t.pk},
                    ).save()
                    continue
                PlayAction(
                    run=run, at=now, action="started", detail={"transition": t.pk, "stage": t.to_stage}
                ).save()
                titles: list[tuple[int, str, int]] = []
                if play.kind in AUDIENCE_KINDS:
                    titles = []
                elif play.kind == PlayKind.CADENCE:
                    touches = max(1, min(play.touches, 21))
                    spread = play.due_days / (touches - 1) if touches > 1 else 0
                    titles = [
                        (i + 1, f"{play.name}: touch {i + 1} of {touches}", round(i * spread))
                        for i in range(touches)
                    ]
                elif play.kind == PlayKind.ENRICH:
                    required = Persona.objects.filter(required_in_buying_team=True).order_by("pk")
                    have = set(
                        Contact.objects.filter(account_id=account.pk).values_list("persona_id", flat=True)
                    )
                    names = [p.name for p in required if p.pk not in have]
                    need = ", ".join(names) if names else "check the buying team is complete"
                    titles = [(1, f"{play.name}: {need}", play.due_days)]
                else:
                    titles = [(1, play.name, play.due_days)]
                for sequence, title, days in titles:
                    PlayTask(
                        run=run,
                        sequence=sequence,
                        title=title[:300],
                        due_on=today + datetime.timedelta(days=days),
                        assignee_id=run.owner_id,
                        team_id=run.team_id,
                    ).save()
        cursor.save()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "queries": queries[0], "transitions": transitions}


def _trigger_round(*, round_no: int, share: float, seed: int, previous: dict[int, str], now) -> dict:
    """Insert a round's transitions, run the baseline in a transaction rolled back afterwards, then
    ``plays_trigger`` on the same state; the counts of both, the ratio when they agree."""
    from django.db import connection, transaction

    from playbooks.triggers import plays_trigger
    from scoring.models import BuyingStageTransition

    inserted = stage_transitions_insert(round_no=round_no, share=share, seed=seed, previous=previous)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(BuyingStageTransition._meta.db_table)}")
    before = playbook_counts()
    print(
        f"bench: plans: playbooks round {round_no}: {inserted['transitions']:,} transitions: baseline …",
        file=sys.stderr,
        flush=True,
    )
    with transaction.atomic():
        base = trigger_baseline(now=now)
        base_counts = playbook_counts()
        transaction.set_rollback(True)
    print(f"bench: plans: playbooks round {round_no}: plays_trigger …", file=sys.stderr, flush=True)
    with queries_counted() as queries:
        started = time.perf_counter()
        result = plays_trigger(now=now)
        seconds = time.perf_counter() - started
    counts = playbook_counts()
    differences = figures_differences(base_counts, counts)
    written = sum(sum(counts[k].values()) - sum(before[k].values()) for k in ("runs", "tasks", "actions"))
    return {
        "transitions": inserted["transitions"],
        "by_stage": inserted["by_stage"],
        "insert_seconds": inserted["insert_seconds"],
        "trigger": result,
        "counts": counts,
        "rows_written": written,
        "seconds": round(seconds, 3),
        "transitions_per_second": round(inserted["transitions"] / seconds) if seconds else None,
        "queries": queries[0],
        "baseline": {
            "seconds": round(base["seconds"], 2),
            "transitions_per_second": round(base["transitions"] / base["seconds"])
            if base["seconds"]
            else None,
            "queries": base["queries"],
        },
        "agreement": {"agree": True}
        if not differences
        else {"agree": False, "differences": differences[:20]},
        "speedup": round(base["seconds"] / seconds, 1) if not differences and seconds else None,
        "_to": inserted["to"],
    }


def playbook_trigger_after_rescore(options: argparse.Namespace) -> dict:
    """Playbook triggering after a full rescore: one published playbook per stage, then two rounds of stage
    transitions (round 1: every account enters a stage; round 2: ``--plans-playbook-regress-share`` of
    them fall back one), each acted on by ``plays_trigger`` and by a plain per-transition loop on the same
    state."""
    if not getattr(options, "plans_playbook_trigger", True):
        return {"measured": False, "status": "skipped (--no-plans-playbook-trigger)"}
    now = datetime.datetime.now(datetime.UTC)
    plays = playbooks_published()
    rounds, previous = [], {}
    for round_no in (1, 2):
        measured = _trigger_round(
            round_no=round_no,
            share=options.plans_playbook_regress_share,
            seed=options.plans_seed,
            previous=previous,
            now=now,
        )
        previous = {**previous, **measured.pop("_to")}
        rounds.append(measured)
    return {
        "measured": True,
        "playbooks": plays,
        "method": "baseline first, in a transaction rolled back afterwards, then plays_trigger on the same "
        "state; counts (runs by status, tasks by status, actions by kind, the cursor) compared",
        "baseline_method": "every transition as a model instance; per transition the account, open deal and "
        "won deal (.exists()), its open runs (stops saved one by one, their open tasks too), the stage's "
        "published playbook and plays, earlier runs per play; each PlayRun, PlayTask and PlayAction .save()",
        "rounds": rounds,
        "agree": all(r["agreement"]["agree"] for r in rounds),
    }


def measure(options: argparse.Namespace) -> dict:
    """The section on the database Django points at now: build the world, publish the plan, measure."""
    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate()
    print(
        f"bench: plans setup: {options.plans_accounts:,} accounts with scores, "
        f"{options.plans_opportunities:,} opportunities (untimed) …",
        file=sys.stderr,
        flush=True,
    )
    built = world_build(
        accounts=options.plans_accounts,
        opportunities=options.plans_opportunities,
        seed=options.plans_seed,
        today=today,
    )
    started = time.perf_counter()
    plan, viewer = plan_published(today=today)
    publish_s = time.perf_counter() - started
    load = os.getloadavg()
    history = _history(plan, options.plans_repeats)
    attainment = _attainment(plan, options.plans_repeats, today)
    print("bench: plans: the plan page …", file=sys.stderr, flush=True)
    try:
        page = plan_page(plan, viewer, options.plans_page_requests)
    except Exception as exc:  # noqa: BLE001  (the project's URLs or page fail to load: keep the figures)
        page = {"error": f"the plan page fails: {type(exc).__name__}: {exc}", "p95_ms": None}
    profile = None
    if getattr(options, "plans_profile", None):
        from plans.selectors import history_compute, plan_attainment, plan_figures

        def both() -> None:
            history_compute(start=plan.history_start, end=plan.history_end)
            plan_attainment(plan, plan_figures(plan), today=today)

        print("bench: plans: profiling history_compute and plan_attainment …", file=sys.stderr, flush=True)
        profile = world.profiled(options.plans_profile, both)
    p95 = page["p95_ms"]
    result = {
        "database": {"vendor": connection.vendor},
        "world": {**built, "draft_to_published_seconds": round(publish_s, 2)},
        "history": history,
        "attainment": attainment,
        "plan_page": page,
        "playbook_trigger_after_rescore": playbook_trigger_after_rescore(options),
        "targets": {
            "plan_page_p95_ms": TARGET_PAGE_MS,
            "plan_page_under_300ms_met": p95 is not None and p95 < TARGET_PAGE_MS,
        },
        "load_average_before": load,
    }
    result.update(load_warning(load[0], "before the measurement"))
    if profile:
        result["profile"] = profile
    return result


# --- the section ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    url = _database_url(args)
    if ready_url() not in (None, url):
        return world.in_own_process(
            "plans", args, own=("plans_",), url_flag="--plans-database-url", url=url, reseed=False
        )
    started = time.perf_counter()
    print(f"bench: plans: recreating {url} and migrating …", file=sys.stderr, flush=True)
    database_recreate(url)
    django_ready(url)
    migrate_s = time.perf_counter() - started
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('autovacuum')")
        pg_version, autovacuum = cursor.fetchone()
    result = measure(args)
    result["database"] = {"url": url, "postgresql": pg_version, "autovacuum": autovacuum}
    result["world"]["migrate_seconds"] = round(migrate_s, 1)
    return result
