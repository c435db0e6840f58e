"""What-if benchmark: a draft ruleset replayed against the published one over the last 13 weeks of the
demo world (``scoring.whatif.whatif_compute``), against the per-week replay it replaced, in the same run.

The world is seeded by the rescore section's helpers (``seed_demo --accounts N``, ~9.8 contacts per
account) into a database of this section's own, kept between runs (``--reseed`` replaces it). The draft
is the published version with lower MQL thresholds and a faster-decaying pricing rule, created inside a
transaction that is rolled back. As of the world's last day:

1. ``whatif_compute`` over every contact, timed step by step: the reads (contacts, activity rollups,
   campaign events), the replay (``qualifications`` of both versions: one pass over the weeks), and the
   outcomes (SQL moves, opportunities, channels of the qualified);
2. baseline: ``whatif_compute(replay="weekly")`` — the engine once per week and version, the outcomes
   one contact at a time, as before — on the contacts of a random sample of accounts. Its reads are
   the whole world's whatever the sample (it reads everything, then keeps the sample's rows), so the
   baseline is its replay and outcomes times (contacts / sample contacts), plus its reads and the rest
   as measured;
3. agreement: the one-pass replay on the same sample gives the same result, field for field.
"""

import argparse
import copy
import datetime
import os
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from . import rescore as world
from .db import django_ready, load_warning, ready_url

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/revops_bench_whatif"
TARGET_SECONDS = 60
STEPS = {  # names scoring.whatif calls → the step they belong to
    "contacts_frame": "read_contacts",
    "activity_frame": "read_activity",
    "contact_activity": "read_activity",
    "campaign_activity": "read_campaign_events",
    "qualifications": "replay",
    "qualifications_weekly": "replay",
    "outcomes": "outcomes",
    "outcomes_rowwise": "outcomes",
}
SCALED = ("replay", "outcomes")  # the baseline's steps that grow with the contacts


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--whatif-database-url",
        help="PostgreSQL database of this section's world, kept between runs (default: "
        f"$BENCH_WHATIF_DATABASE_URL or {DEFAULT_DATABASE_URL}); its name must contain 'bench'",
    )
    group.add_argument(
        "--whatif-accounts", type=int, default=100_000, help="demo accounts (~9.8 contacts each)"
    )
    group.add_argument("--whatif-days", type=int, default=90, help="days replayed (90: 13 weeks)")
    group.add_argument(
        "--whatif-baseline-accounts",
        type=int,
        default=5000,
        help="accounts whose contacts the per-week baseline replays (extrapolated to the world)",
    )


def _database_url(args: argparse.Namespace) -> str:
    url = args.whatif_database_url or os.environ.get("BENCH_WHATIF_DATABASE_URL") or DEFAULT_DATABASE_URL
    # The rescore section's checks (PostgreSQL, "bench" in the name) apply to this database too.
    return world.shared_database_url(args, url)


class _Steps:
    """Seconds per step of ``whatif_compute``, by wrapping the names it calls."""

    def __init__(self):
        self.seconds: Counter[str] = Counter()

    def _wrap(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[STEPS[name]] += time.perf_counter() - started

        return timed

    @contextmanager
    def active(self) -> Iterator["_Steps"]:
        from scoring import whatif

        originals = {name: getattr(whatif, name) for name in STEPS}
        for name, function in originals.items():
            setattr(whatif, name, self._wrap(name, function))
        try:
            yield self
        finally:
            for name, function in originals.items():
                setattr(whatif, name, function)

    def breakdown(self, total: float) -> dict[str, float]:
        out = {key: round(value, 2) for key, value in sorted(self.seconds.items())}
        out["other"] = round(total - sum(self.seconds.values()), 2)  # weeks, breakdowns, lists
        return out


def _timed(**arguments) -> tuple[dict, float, dict]:
    from scoring.whatif import whatif_compute

    steps = _Steps()
    with steps.active():
        started = time.perf_counter()
        result = whatif_compute(**arguments)
        seconds = time.perf_counter() - started
    return result, seconds, steps.breakdown(seconds)


def _draft(published):
    """A draft copying every definition field and rule of the published version (as "New draft" does),
    with lower MQL thresholds and a faster-decaying pricing rule; the caller rolls it back."""
    from scoring.models import Ruleset
    from scoring.selectors import DEFINITION_FIELDS

    draft = Ruleset.objects.create(
        **{field: copy.deepcopy(getattr(published, field)) for field in DEFINITION_FIELDS},
        number=(Ruleset.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1,
        based_on=published,
    )
    draft.name = "Bench draft: lower bar, faster pricing decay"
    draft.mql_fit_min = published.mql_fit_min - 5
    draft.mql_engagement_min = published.mql_engagement_min - 3
    draft.save()
    for rule in published.rules.all():
        rule.pk, rule.ruleset = None, draft
        if rule.url_pattern.startswith("^/pricing"):
            rule.half_life_days = 7
        rule.save()
    return draft


def measure(args: argparse.Namespace, marker: dict) -> dict:
    from django.db import connection, transaction

    from accounts.models import Account
    from scoring.rescore import published as published_ruleset

    as_of = datetime.date.fromisoformat(marker["end_date"]) - datetime.timedelta(days=1)
    load = os.getloadavg()
    with transaction.atomic():
        published = published_ruleset()
        draft = _draft(published)
        arguments = {"ruleset": draft, "baseline": published, "days": args.whatif_days, "as_of": as_of}

        print("bench: whatif: the one-pass replay of every contact …", file=sys.stderr, flush=True)
        result, seconds, steps = _timed(**arguments)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        ids = list(Account.objects.order_by("id").values_list("id", flat=True))
        sample = sorted(
            random.Random(args.rescore_seed).sample(ids, min(len(ids), args.whatif_baseline_accounts))
        )
        print(
            f"bench: whatif: the per-week baseline on {len(sample):,} accounts …", file=sys.stderr, flush=True
        )
        weekly, weekly_s, weekly_steps = _timed(**arguments, account_ids=sample, replay="weekly")
        print("bench: whatif: the one-pass replay on the same accounts …", file=sys.stderr, flush=True)
        same, same_s, _ = _timed(**arguments, account_ids=sample)
        transaction.set_rollback(True)

    # The replay and the outcomes grow with the contacts; the reads are the whole world's already, and
    # the rest (picking the sample's rows out of the world's, the weeks and breakdowns) is left unscaled.
    scaled = sum(weekly_steps.get(step, 0.0) for step in SCALED)
    scale = result["contacts"] / weekly["contacts"] if weekly["contacts"] else 0.0
    extrapolated = weekly_s - scaled + scaled * scale
    differing = sorted(key for key in weekly if weekly[key] != same.get(key))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        pg_version = cursor.fetchone()[0]
    out = {
        "database": {"postgresql": pg_version},
        "world": {
            "accounts_flag": marker["accounts"],
            "seed": marker["seed"],
            **marker["counts"],
            "seeded_at": marker["seeded_at"],
            "as_of": as_of.isoformat(),
        },
        "replay": {
            "contacts": result["contacts"],
            "weeks": len(result["weeks"]),
            "days": args.whatif_days,
            "rulesets": 2,
            "seconds": round(seconds, 2),
            "steps": steps,
            "peak_rss_mb": round(rss_mb),
            "totals": result["totals"],
            "newly_qualified": result["newly_qualified_count"],
            "dropped": result["dropped_count"],
        },
        "baseline": {
            "method": "whatif_compute(replay='weekly'): evaluate_contacts per week and version (14 × 2), "
            "outcomes one contact at a time; on the contacts of a random sample of accounts: its "
            "replay and outcomes × (contacts / sample contacts), plus its reads (the whole world's) "
            "and the rest",
            "sample_accounts": len(sample),
            "sample_contacts": weekly["contacts"],
            "seconds": round(weekly_s, 2),
            "steps": weekly_steps,
            "extrapolated_seconds": round(extrapolated, 1),
            "one_pass_on_the_sample_seconds": round(same_s, 2),
            "same_result_on_the_sample": not differing,
            **({"differing_fields": differing} if differing else {}),
        },
        "speedup": round(extrapolated / seconds, 1) if seconds else None,
        "targets": {
            "seconds": TARGET_SECONDS,
            "seconds_met": seconds <= TARGET_SECONDS,
            "at_a_million_contacts": result["contacts"] >= 950_000,
        },
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
    }
    out.update(load_warning(load[0], "before the measurement"))
    return out


def run(args: argparse.Namespace) -> dict:
    url = _database_url(args)
    if ready_url() not in (None, url):
        return world.in_own_process(
            "whatif", args, own=("whatif_", "rescore_seed"), url_flag="--whatif-database-url", url=url,
            reseed=world.reseeds_here(args, earlier=set()),
        )  # fmt: skip
    started = time.perf_counter()
    marker, reused = world.kept_world(
        url,
        accounts=args.whatif_accounts,
        seed=args.rescore_seed,
        reseed=world.reseeds_here(args, earlier=set()),
        flag="--whatif-database-url",
    )
    django_ready(url)
    result = measure(args, marker)
    result["database"]["url"] = url
    result["world"]["reused"] = reused
    result["world"]["setup_seconds"] = round(time.perf_counter() - started, 1)
    return result
