"""Rescoring benchmark: the full rules rescore of the demo world on PostgreSQL, write-back included,
against a plain per-contact ORM loop; and event → updated score latency through a real Celery worker.

The world (``seed_demo --accounts N``, ~9.8 contacts per account) lives in a dedicated database that
is kept between runs: seeding 100,000 accounts takes minutes, so a marker in ``bench_meta`` records
what was seeded and the next run reuses it (``--reseed`` forces a new one). Each run first puts the
world back as seeded (no scores, no history, no transitions, the seeded lifecycle stages), then:

1. baseline: a random sample of contacts scored the way a straightforward Django app would — the
   contact through the ORM, its rollups in the rules' window, the one-record engine, then
   ``update_or_create`` of its score and a history row — timed and extrapolated to the population;
2. ``rescore_all()`` in-process, timed (with a load / evaluate / write breakdown), then again with
   nothing changed (nothing written);
3. latency: a real ``celery worker`` drains the scoring outbox while single events are ingested for
   random contacts; each is timed from ingestion until the contact's score is rewritten.

Scores are computed as of the world's last day, so that a world reused on a later day gives the
same figures (and the bench's own latency events, dated today, never enter them).
"""

import argparse
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from . import db as bench_db
from .db import database_recreate, django_ready, percentile, queries_counted, server_environment
from .server import children_cpu, server_cpu

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/revops_bench_rescore"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
TARGET_SECONDS = 20  # issue 16 (was 30)
TARGET_SPEEDUP = 50
TARGET_LATENCY_P95_MS = 1000

MARKER_KEY = "rescore_world"
STAGE_SNAPSHOT = "bench_seeded_stage"
EVENT_TIMEOUT_S = 10.0  # per latency event: longer means the worker is stuck
WORKER_START_TIMEOUT_S = 120.0  # the first (warm-up) event also waits for the worker to boot
WARMUP_EVENTS = 3
POLL_S = 0.01


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--rescore-database-url",
        help="PostgreSQL database kept between runs for the demo world (default: "
        f"$BENCH_RESCORE_DATABASE_URL or {DEFAULT_DATABASE_URL}); its name must contain 'bench'",
    )
    group.add_argument(
        "--rescore-accounts", type=int, default=100_000, help="demo accounts (~9.8 contacts each)"
    )
    group.add_argument("--rescore-seed", type=int, default=42, help="seed_demo --seed")
    group.add_argument(
        "--reseed", action="store_true", help="drop and seed the world even if one of that size exists"
    )
    group.add_argument(
        "--rescore-baseline-sample", type=int, default=2000, help="contacts through the per-contact ORM loop"
    )
    group.add_argument(
        "--rescore-latency-events", type=int, default=100, help="single events timed through the worker"
    )
    group.add_argument(
        "--rescore-redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"Redis (broker and cache) for the worker and this process (default {DEFAULT_REDIS_URL})",
    )
    group.add_argument(
        "--rescore-processes",
        type=int,
        default=2,
        help="local processes for the headline full rescore (the single-process run is reported too)",
    )
    group.add_argument(
        "--rescore-profile",
        metavar="FILE",
        help="also profile one more full rescore (cProfile) to FILE; top functions in the JSON",
    )


def _database_url(args: argparse.Namespace) -> str:
    url = args.rescore_database_url or os.environ.get("BENCH_RESCORE_DATABASE_URL") or DEFAULT_DATABASE_URL
    from psycopg.conninfo import conninfo_to_dict

    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"The rescore benchmark needs PostgreSQL, not {url!r}.")
    if "bench" not in (conninfo_to_dict(url).get("dbname") or ""):
        raise SystemExit(f"Refusing to use {url!r}: the database name must contain 'bench'.")
    return url


def shared_database_url(args: argparse.Namespace, own: str | None) -> str:
    """A section that works on this section's world: its own flag, else this section's database."""
    return _database_url(SimpleNamespace(rescore_database_url=own or args.rescore_database_url))


def reseeds_here(args: argparse.Namespace, *, earlier: set[str]) -> bool:
    """Whether --reseed falls to this section: not when a section of ``earlier`` runs too (all of them
    do without --only) — it has just reseeded the shared world."""
    if not args.reseed or not args.only:
        return False
    return not earlier & {s.strip() for s in args.only.split(",")}


# --- running in a process of its own --------------------------------------------------------------------
def in_own_process(
    section: str, args: argparse.Namespace, *, own: tuple[str, ...], url_flag: str, url: str, reseed: bool
) -> dict:
    """Another section already pointed Django at its database: run ``section`` in a fresh process, with
    every option whose name starts with one of ``own`` as given (defaults included), ``url_flag url``,
    and ``--reseed`` when this section is the one to reseed."""
    skip = url_flag.lstrip("-").replace("-", "_")
    argv = [url_flag, url, *(["--reseed"] if reseed else [])]
    for name, value in sorted(vars(args).items()):
        if name == skip or not name.startswith(own) or value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]  # str(date) is ISO
    command = [sys.executable, "-m", "bench", "--only", section, *argv]
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"the {section} section failed in its own process (exit {done.returncode})")
    return json.loads(done.stdout)[section]


# --- the world ------------------------------------------------------------------------------------------
def world_marker(url: str) -> dict | None:
    """What the database holds, per the marker of a previous run (None: no database, no marker)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", [MARKER_KEY]).fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return None
    return row[0] if row else None


def _counts() -> dict[str, int]:
    from django.db import connection

    from accounts.models import Account, Contact, ContactActivityDaily, EngagementEvent

    counts = {}
    with connection.cursor() as cursor:
        for name, model in (
            ("accounts", Account),
            ("contacts", Contact),
            ("events", EngagementEvent),
            ("contact_activity_rows", ContactActivityDaily),
        ):
            cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")
            counts[name] = cursor.fetchone()[0]
    return counts


def _max_ids() -> dict[str, int]:
    """Highest ids of what rescoring creates beside the scores, to delete later rows on each run."""
    from django.db.models import Max

    from scoring.models import LifecycleTransition, Notification, WebhookDelivery

    return {
        model._meta.label: model.objects.aggregate(n=Max("id"))["n"] or 0
        for model in (LifecycleTransition, Notification, WebhookDelivery)
    }


def _seed(url: str, accounts: int, seed: int, end: datetime.date) -> float:
    """``manage.py seed_demo`` in a process of its own (no Redis: nothing to enqueue)."""
    env = {**os.environ, **server_environment(url), "REDIS_URL": ""}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    command = [sys.executable, "manage.py", "seed_demo", "--accounts", str(accounts), "--seed", str(seed)]
    command += ["--end-date", end.isoformat(), "-v", "0"]
    print(f"bench: seeding {accounts:,} demo accounts into {url} (minutes) …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"seed_demo failed (exit {done.returncode}):\n{done.stdout[-4000:]}")
    return time.perf_counter() - started


def _world(args: argparse.Namespace, url: str) -> tuple[dict, bool]:
    """Reuse the seeded world of that size and seed, or drop the database and seed it; migrate."""
    marker = None if args.reseed else world_marker(url)
    wanted = {"accounts": args.rescore_accounts, "seed": args.rescore_seed}
    reuse = bool(marker) and all(marker.get(k) == v for k, v in wanted.items())
    if not reuse:
        database_recreate(url)
    django_ready(url)  # migrates (a reused world gets the project's newer migrations too)
    from django.db import connection

    from accounts.models import Contact

    if reuse:
        counts = _counts()
        if any(counts[k] < marker["counts"][k] for k in ("accounts", "contacts")):
            raise SystemExit(
                f"The world in {url} lost rows since it was seeded ({counts} vs {marker['counts']}): "
                "run with --reseed."
            )
        return marker, True
    end = datetime.datetime.now(datetime.UTC).date()
    seconds = _seed(url, args.rescore_accounts, args.rescore_seed, end)
    contacts = Contact._meta.db_table
    with connection.cursor() as cursor:
        print("bench: VACUUM ANALYZE of the new world …", file=sys.stderr, flush=True)
        cursor.execute("VACUUM (ANALYZE)")  # as autovacuum would have by now: stable plans and timings
        cursor.execute(
            f"CREATE TABLE {STAGE_SNAPSHOT} AS SELECT id, lifecycle_stage FROM {contacts}; "
            f"ALTER TABLE {STAGE_SNAPSHOT} ADD PRIMARY KEY (id)"
        )
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
        marker = {
            **wanted,
            "end_date": end.isoformat(),  # seed_demo's period ends the day before
            "seeded_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "seed_seconds": round(seconds, 1),
            "counts": _counts(),
            "max_ids": _max_ids(),
        }
        cursor.execute(
            "INSERT INTO bench_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [MARKER_KEY, json.dumps(marker)],
        )
    return marker, False


def kept_world(url: str, *, accounts: int, seed: int, reseed: bool, flag: str) -> tuple[dict, bool]:
    """The rescore section's world of ``accounts`` in ``url`` for another section, reused or seeded;
    a kept world of another size is refused rather than dropped (``flag`` names the database option)."""
    marker = world_marker(url)
    if marker and not reseed and marker.get("accounts") != accounts:
        raise SystemExit(
            f"{url} holds a world of {marker['accounts']:,} accounts, not {accounts:,}: "
            f"give a world of another size a database of its own ({flag} …bench…), "
            "or --reseed to replace it."
        )
    return _world(SimpleNamespace(rescore_accounts=accounts, rescore_seed=seed, reseed=reseed), url)


def world_reset(marker: dict) -> dict:
    """Back to the world as seeded: no scores, history, outbox, transitions or notifications of earlier
    runs, and every contact in its seeded lifecycle stage."""
    from django.apps import apps
    from django.db import connection

    from accounts.models import Contact
    from scoring.models import AccountRuleScore, ContactScore, ContactScoreHistory, ScoringOutbox

    tables = ", ".join(m._meta.db_table for m in (ContactScore, AccountRuleScore, ContactScoreHistory))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}, {ScoringOutbox._meta.db_table}")
    deleted = {}
    for label, max_id in marker["max_ids"].items():
        count, _ = apps.get_model(label).objects.filter(id__gt=max_id).delete()
        deleted[label] = count
    contacts = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {contacts} c SET lifecycle_stage = s.lifecycle_stage FROM {STAGE_SNAPSHOT} s "
            "WHERE c.id = s.id AND c.lifecycle_stage <> s.lifecycle_stage"
        )
        restored = cursor.rowcount
        if restored:
            cursor.execute(f"VACUUM (ANALYZE) {contacts}")
    return {"stages_restored": restored, **deleted}


# --- measuring ------------------------------------------------------------------------------------------
class _Phases:
    """Time the steps of ``scoring.rescore`` by wrapping the names it and the score store call (a few calls
    per chunk)."""

    TOP = {
        "contacts_by_range": "contacts_load",
        "evaluate_contacts": "contacts_evaluate",
        "contact_scores_write": "contacts_write",
        "lifecycle_apply": "lifecycle",
        "account_population": "accounts_load",
        "evaluate_accounts": "accounts_evaluate",
        "account_scores_write": "accounts_write",
    }
    INNER = {"stored_read": "read_stored", "upsert": "upsert", "bulk_insert": "history_copy"}

    def __init__(self):
        self.seconds: Counter[str] = Counter()
        self.stack: list[str] = []

    def _wrap(self, name: str, function):
        def timed(*args, **kwargs):
            if name in self.INNER:
                if not self.stack or self.stack[-1] in self.INNER:  # bulk_insert inside upsert
                    return function(*args, **kwargs)
                key = f"{self.TOP[self.stack[0]]}.{self.INNER[name]}"
            else:
                key = self.TOP[name]
            self.stack.append(name)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started
                self.stack.pop()

        return timed

    @contextmanager
    def active(self) -> Iterator["_Phases"]:
        from scoring import rescore, store

        originals = {
            (module, name): getattr(module, name)
            for module in (rescore, store)
            for name in (*self.TOP, *self.INNER)
            if hasattr(module, name)
        }
        for (module, name), function in originals.items():
            setattr(module, name, self._wrap(name, function))
        try:
            yield self
        finally:
            for (module, name), function in originals.items():
                setattr(module, name, function)

    def breakdown(self, total: float) -> dict[str, float]:
        out = {key: round(self.seconds[key], 2) for key in sorted(self.seconds)}
        for top in ("contacts_write", "accounts_write"):
            inner = sum(v for k, v in self.seconds.items() if k.startswith(f"{top}."))
            if top in self.seconds:
                out[f"{top}.rows_and_explanations"] = round(self.seconds[top] - inner, 2)
        # Outside the steps: the commit of each chunk's transaction, id bounds, compiling the rules.
        out["commits_and_other"] = round(total - sum(self.seconds[k] for k in self.TOP.values()), 2)
        return out


def _rss_peak_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (the peak) to the current RSS
        return True
    except OSError:
        return False


def _rss_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _full_rescore(url: str, as_of: datetime.date, processes: int = 1) -> dict:
    from scoring.rescore import rescore_all

    phases = _Phases()
    rss_before = _rss_mb("VmRSS")
    peak_resettable = _rss_peak_reset()
    load_before = os.getloadavg()
    cpu, db_cpu, children = time.process_time(), server_cpu(url), children_cpu()
    with phases.active():
        started = time.perf_counter()
        totals = rescore_all(as_of=as_of, processes=processes)
        seconds = time.perf_counter() - started
    db_after, children = server_cpu(url), children_cpu() - children
    cpu = time.process_time() - cpu
    from scoring.models import ContactScoreHistory

    return {
        "processes": processes,
        "seconds": round(seconds, 2),
        "contacts_per_s": round(totals["contacts"] / seconds) if seconds else None,
        "contacts": totals["contacts"],
        "contacts_written": totals["contacts_written"],
        "history_rows": ContactScoreHistory.objects.count(),
        "moved": totals["moved"],
        "meets_mql_definition": totals["meets_mql_definition"],
        "accounts": totals["accounts"],
        "accounts_written": totals["accounts_written"],
        # With several processes the steps run in the children: only the single-process run has them.
        **({"breakdown_s": phases.breakdown(seconds)} if processes == 1 else {}),
        "cpu_s": {
            "python": round(cpu, 2),
            "chunk_processes": round(children, 2),  # the pool's, once it has exited
            # The whole server's: the pool's connections have closed by now.
            "database": round(db_after - db_cpu, 2),
        },
        "rss_before_mb": rss_before,
        ("peak_rss_mb" if peak_resettable else "peak_rss_mb_whole_process"): _rss_mb("VmHWM"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def _second_run(as_of: datetime.date) -> dict:
    from scoring.rescore import rescore_all

    started = time.perf_counter()
    totals = rescore_all(as_of=as_of)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "contacts": totals["contacts"],
        "contacts_written": totals["contacts_written"],
        "accounts_written": totals["accounts_written"],
        "moved": totals["moved"],
    }


def profiled(path: str, call: Callable[[], object]) -> dict:
    """Run ``call`` under cProfile: statistics to ``path`` and stderr, the top functions into a dict
    (by own time, and the project's by cumulative time)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    call()
    profiler.disable()
    seconds = time.perf_counter() - started
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    own = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:12]
    project = [
        item
        for item in stats.stats.items()
        if str(ROOT) in item[0][0] and "/.venv/" not in item[0][0] and "/bench/" not in item[0][0]
    ]
    project.sort(key=lambda item: item[1][3], reverse=True)
    return {
        "file": path,
        "seconds_profiled": round(seconds, 2),
        "top_tottime": [_profile_row(*item) for item in own],
        "top_cumtime_project": [_profile_row(*item) for item in project[:15]],
    }


def _profile(as_of: datetime.date, path: str) -> dict:
    """One more full rescore (from a reset world) under cProfile."""
    from scoring.rescore import rescore_all

    return profiled(path, lambda: rescore_all(as_of=as_of))


def _profile_row(where: tuple, numbers: tuple) -> dict:
    file, line, name = where
    _, calls, tottime, cumtime, _ = numbers
    path = Path(file)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) and ".venv" not in path.parts else path
    if shown is path and len(path.parts) > 2:
        shown = Path(*path.parts[-2:])
    return {
        "function": f"{shown}:{line}({name})",
        "calls": calls,
        "tottime_s": round(tottime, 2),
        "cumtime_s": round(cumtime, 2),
    }


# --- the baseline: one contact at a time through the ORM ------------------------------------------------
def _baseline(spec, as_of: datetime.date, ids: list[int]) -> dict:
    """What a plain Django implementation would do per contact; same rules, same engine semantics."""
    from django.utils import timezone

    from accounts.models import Contact, ContactActivityDaily, EngagementEvent
    from accounts.normalize import activity_key
    from scoring.engine.rules import day_ordinal, score_contact
    from scoring.models import ContactScore, ContactScoreHistory

    lookback = spec.lookback_days
    first = as_of - datetime.timedelta(days=lookback) if lookback is not None else None
    campaign_ids = sorted(spec.campaign_ids)
    end = datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    results: dict[int, tuple] = {}
    with queries_counted() as queries:
        started = time.perf_counter()
        for cid in ids:
            contact = Contact.objects.select_related("account", "persona").get(pk=cid)
            account = contact.account
            record = {
                "contact_id": contact.pk,
                "account_id": contact.account_id,
                "email": contact.email,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "title": contact.title,
                "seniority": contact.seniority,
                "department": contact.department,
                "country": contact.country,
                "persona": contact.persona.name if contact.persona else None,
                "custom": contact.custom,
                "lifecycle_stage": contact.lifecycle_stage,
                "created": contact.created,
            }
            if account is not None:
                revenue = account.annual_revenue
                record.update(
                    {
                        "account.industry": account.industry,
                        "account.employee_count": account.employee_count,
                        "account.annual_revenue": float(revenue) if revenue is not None else None,
                        "account.country": account.country,
                        "account.domain": account.domain,
                        "account.name": account.name,
                        "account.custom": account.custom,
                        "account.technologies": tuple(
                            sorted(account.technologies.values_list("name", flat=True))
                        ),
                    }
                )
            rollups = ContactActivityDaily.objects.filter(contact_id=cid, day__lte=as_of)
            if first is not None:
                rollups = rollups.filter(day__gt=first)
            activity = [
                (day_ordinal(day), event_type, key, n)
                for day, event_type, key, n in rollups.order_by("day", "event_type", "key").values_list(
                    "day", "event_type", "key", "count"
                )
            ]
            campaign = []
            if campaign_ids:
                folded: Counter[tuple] = Counter()
                for at, event_type, url, topic, campaign_id in EngagementEvent.objects.filter(
                    contact_id=cid, campaign_id__in=campaign_ids, occurred_at__lt=end
                ).values_list("occurred_at", "event_type", "url", "topic", "campaign_id"):
                    day = at.astimezone(datetime.UTC).date()
                    if first is None or day > first:
                        key = activity_key(event_type=event_type, url=url, topic=topic)
                        folded[(day_ordinal(day), event_type, key, campaign_id)] += 1
                campaign = [(d, t, k, n, c) for (d, t, k, c), n in sorted(folded.items())]
            one = score_contact(spec, record, activity, campaign, as_of=as_of)
            now = timezone.now()
            values = {
                "fit": one.fit,
                "engagement": one.engagement,
                "fit_grade": one.fit_grade,
                "engagement_grade": one.engagement_grade,
                "excluded": one.excluded,
            }
            ContactScore.objects.update_or_create(
                contact_id=cid,
                defaults={
                    **values,
                    "ruleset_id": spec.id,
                    "fast_track": one.fast_track,
                    "as_of": as_of,
                    "scored_at": now,
                },
            )
            ContactScoreHistory.objects.create(
                contact_id=cid, ruleset_id=spec.id, as_of=as_of, scored_at=now, explanation=one.explanation,
                **values,
            )  # fmt: skip
            results[cid] = (one.fit, one.engagement, one.excluded, one.fit_grade, one.engagement_grade)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "queries": queries[0], "results": results}


def _agreement(results: dict[int, tuple]) -> int:
    """How many baseline scores equal those the full rescore stored."""
    from scoring.models import ContactScore

    stored = {
        row[0]: row[1:]
        for row in ContactScore.objects.filter(contact_id__in=list(results)).values_list(
            "contact_id", "fit", "engagement", "excluded", "fit_grade", "engagement_grade"
        )
    }
    return sum(stored.get(cid) == tuple(values) for cid, values in results.items())


# --- latency through a real worker ----------------------------------------------------------------------
class WorkerFailed(Exception):
    pass


@contextmanager
def _worker(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """``celery -A config worker -P solo -c 1`` in a session of its own, until the block ends."""
    log = tempfile.NamedTemporaryFile(prefix="bench-celery-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1",
        "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process, log.name
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # our own session: the worker only
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        output = Path(log.name).read_text(errors="replace")
        if "Traceback" in output or "ERROR" in output:
            print(f"bench: the celery worker reported errors:\n{output[-6000:]}", file=sys.stderr)
        os.unlink(log.name)


def _log_tail(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _one_event(
    cid: int, tag: str, process: subprocess.Popen, log: str, timeout: float
) -> tuple[float, float]:
    """Ingest one pricing-page view for contact ``cid``; wait until its score is rewritten.
    Returns (seconds to the updated score, seconds the ingestion call took)."""
    from django.utils import timezone

    from accounts.ingest import events_ingest
    from scoring.models import ContactScore

    wall = timezone.now()
    item = {
        "message_id": tag,
        "type": "page_view",
        "occurred_at": wall.isoformat(),
        "contact_id": cid,
        "url": "https://www.example.com/pricing",
    }
    started = time.perf_counter()
    events_ingest(actor=None, items=[item])  # commits; the outbox drain is enqueued after commit
    ingested = time.perf_counter() - started
    deadline = started + timeout
    updated = ContactScore.objects.filter(contact_id=cid, scored_at__gt=wall)
    while not updated.exists():
        if process.poll() is not None:
            raise WorkerFailed(f"the celery worker exited (code {process.returncode}):\n{_log_tail(log)}")
        if time.perf_counter() > deadline:
            raise WorkerFailed(
                f"contact {cid}'s score was not updated {timeout:g} s after its event: the worker is "
                f"stuck or not draining the outbox.\n{_log_tail(log)}"
            )
        time.sleep(POLL_S)
    return time.perf_counter() - started, ingested


def _latency(url: str, redis_url: str, events: int, seed: int) -> dict:
    from django.core.cache import cache
    from django.db import connection

    from accounts.models import Contact
    from config.celery import app
    from scoring.models import ContactScore
    from scoring.rescore import DRAIN_KEY

    if events < 1:
        return {"events": 0}
    try:
        cache.delete(DRAIN_KEY)  # also checks Redis answers
        app.control.purge()  # messages left by an interrupted run
    except Exception as exc:
        raise WorkerFailed(f"Redis at {redis_url} does not answer: {exc}") from exc
    # Contacts with an account and no engagement yet: a pricing-page view surely changes their score.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.contact_id FROM {ContactScore._meta.db_table} s "
            f"JOIN {Contact._meta.db_table} c ON c.id = s.contact_id "
            "WHERE s.engagement = 0 AND c.account_id IS NOT NULL ORDER BY s.contact_id"
        )
        candidates = [row[0] for row in cursor.fetchall()]
    rng = random.Random(seed)
    chosen = rng.sample(candidates, min(len(candidates), events + WARMUP_EVENTS))
    if len(chosen) < events + WARMUP_EVENTS:
        raise WorkerFailed(f"only {len(candidates)} contacts without engagement to send events for")
    run = f"bench-rescore-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%S}-{rng.getrandbits(32):08x}"
    env = {
        **os.environ,
        **server_environment(url),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    latencies, ingest = [], []
    with _worker(env) as (process, log):
        booted = time.perf_counter()
        for n, cid in enumerate(chosen[:WARMUP_EVENTS]):  # the first also waits for the worker to boot
            _one_event(cid, f"{run}-warm-{n}", process, log, WORKER_START_TIMEOUT_S if n == 0 else 30)
        ready_s = time.perf_counter() - booted
        load = os.getloadavg()
        for n, cid in enumerate(chosen[WARMUP_EVENTS:]):
            seconds, ingested = _one_event(cid, f"{run}-{n}", process, log, EVENT_TIMEOUT_S)
            latencies.append(seconds)
            ingest.append(ingested)
    latencies.sort()
    ingest.sort()
    return {
        "events": len(latencies),
        "event": "page_view /pricing for a random contact with an account and no engagement yet",
        "worker": "celery worker -P solo -c 1 (Redis broker), scoring outbox drained per event",
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "max_ms": round(1000 * latencies[-1], 1),
        "ingest_call_ms_p50": round(1000 * percentile(ingest, 0.50), 1),
        "worker_boot_and_warmup_s": round(ready_s, 1),
        "timeout_s_per_event": EVENT_TIMEOUT_S,
        "load_average_at_start": [round(x, 2) for x in load],
    }


# --- the section ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    url = _database_url(args)
    if bench_db.ready_url() not in (None, url):
        return in_own_process(
            "rescore", args, own=("rescore_",), url_flag="--rescore-database-url", url=url, reseed=args.reseed
        )
    # This process enqueues the outbox drains: the same Redis (broker and cache) as the worker's.
    os.environ["REDIS_URL"] = args.rescore_redis_url
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    started = time.perf_counter()
    marker, reused = _world(args, url)
    setup_s = time.perf_counter() - started
    from django.db import connection

    from accounts.models import Contact
    from scoring.population import spec_for
    from scoring.rescore import published

    as_of = datetime.date.fromisoformat(marker["end_date"]) - datetime.timedelta(days=1)
    spec = spec_for(published())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        pg_version = cursor.fetchone()[0]
    counts = _counts()

    print("bench: rescore baseline (per-contact ORM loop) …", file=sys.stderr, flush=True)
    reset = world_reset(marker)
    ids = list(Contact.objects.order_by("id").values_list("id", flat=True))
    sample = random.Random(args.rescore_seed).sample(ids, min(len(ids), args.rescore_baseline_sample))
    base = _baseline(spec, as_of, sample)
    world_reset(marker)

    print(f"bench: full rescore of {len(ids):,} contacts …", file=sys.stderr, flush=True)
    full = single = _full_rescore(url, as_of)
    agree = _agreement(base["results"])
    if args.rescore_processes > 1:
        print(f"bench: full rescore in {args.rescore_processes} processes …", file=sys.stderr, flush=True)
        world_reset(marker)
        full = _full_rescore(url, as_of, args.rescore_processes)
        agree = min(agree, _agreement(base["results"]))
    print("bench: full rescore again, nothing changed …", file=sys.stderr, flush=True)
    second = _second_run(as_of)
    profile = None
    if args.rescore_profile:
        print("bench: profiling a full rescore …", file=sys.stderr, flush=True)
        world_reset(marker)
        profile = _profile(as_of, args.rescore_profile)

    print(f"bench: latency of {args.rescore_latency_events} events through a worker …", file=sys.stderr)
    try:
        latency = _latency(url, args.rescore_redis_url, args.rescore_latency_events, args.rescore_seed)
    except WorkerFailed as exc:
        print(f"bench: rescore latency FAILED: {exc}", file=sys.stderr, flush=True)
        latency = {"error": str(exc).splitlines()[0]}

    per_contact = base["seconds"] / len(sample) if sample else 0.0
    extrapolated = per_contact * full["contacts"]
    speedup = round(extrapolated / full["seconds"], 1) if full["seconds"] and extrapolated else None
    p95 = latency.get("p95_ms")
    result = {
        "database": {"url": url, "postgresql": pg_version},
        "world": {
            "accounts_flag": marker["accounts"],
            "seed": marker["seed"],
            **counts,
            "reused": reused,
            "seeded_at": marker["seeded_at"],
            "seed_seconds": marker["seed_seconds"],
            "setup_seconds": round(setup_s, 1),
            "as_of": as_of.isoformat(),
            "ruleset": spec.number,
            "rules": len(spec.rules),
            "reset": reset,
        },
        "full_rescore": full,
        "full_rescore_single_process": single,
        "second_run_unchanged": second,
        "baseline": {
            "method": "per contact: ORM get (account, persona), technologies, rollups in the rules' window, "
            "score_contact, update_or_create of the score and a history row (autocommit)",
            "sample": len(sample),
            "seconds": round(base["seconds"], 2),
            "ms_per_contact": round(1000 * per_contact, 3),
            "queries_per_contact": round(base["queries"] / len(sample), 1) if sample else None,
            "extrapolated_seconds": round(extrapolated, 1),
            "same_scores_as_full_rescore": agree,
        },
        "speedup": speedup,
        "latency": latency,
        "targets": {
            "full_rescore_seconds": TARGET_SECONDS,
            "speedup": TARGET_SPEEDUP,
            "latency_p95_ms": TARGET_LATENCY_P95_MS,
            "full_rescore_seconds_met": full["seconds"] <= TARGET_SECONDS,
            "speedup_met": bool(speedup and speedup >= TARGET_SPEEDUP),
            "latency_p95_ms_met": p95 is not None and p95 < TARGET_LATENCY_P95_MS,
        },
    }
    if profile:
        result["profile"] = profile
    return result
