"""Ingestion benchmark: POST /api/events/batch/ against a plain DRF baseline, over real HTTP.

Builds a world of known accounts and contacts, pre-builds realistic batches (known and new account
domains, known and new contact e-mails, free mail, page views on /pricing, /blog/…, /careers,
intent topics, webinars, form fills …), serves the app with gunicorn and posts the batches from
concurrent keep-alive clients. Reports events/s of both paths, their ratio, and batch latency.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from .db import database_recreate, django_ready, server_environment
from .server import Server, database_cpu, gunicorn, post_all

FAST_PATH = "/api/events/batch/"
BASELINE_PATH = "/bench/baseline/events/batch/"
TARGET_EVENTS_PER_S = 20_000
TARGET_SPEEDUP = 10

KNOWN_ACCOUNTS = 2_000
RECENT_SHARE = 0.85  # of events that happened in the last 24 hours
CONTACTS_PER_ACCOUNT = 5
PAGES = (
    ["/pricing"] * 6
    + ["/careers"] * 2
    + [
        "/",
        "/product",
        "/product/scoring",
        "/product/intent",
        "/customers",
        "/compare/legacy-vendor",
        "/demo",
    ]
    + ["/docs/getting-started", "/integrations/salesforce", "/integrations/hubspot", "/about"]
)
BLOG_POSTS = [
    f"/blog/{slug}-{n}" for n in range(40) for slug in ("abm-playbook", "mql-is-dead", "intent-data")
]
TOPICS = [
    "revenue operations", "account based marketing", "lead scoring", "intent data",
    "sales intelligence", "predictive analytics", "crm integration", "marketing attribution",
    "pipeline forecasting", "abm platform",
]  # fmt: skip
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com"]
FIRST_NAMES = ["ada", "grace", "alan", "barbara", "edsger", "frances", "ken", "margaret", "linus", "radia"]
TYPES = [  # (type, weight)
    ("page_view", 55), ("intent", 14), ("email_open", 8), ("email_click", 4), ("webinar", 4),
    ("form_fill", 4), ("content_download", 4), ("ad_click", 4), ("demo_request", 1), ("free_trial", 1),
    ("meeting", 1),
]  # fmt: skip


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--events", type=int, default=200_000, help="events through the fast path")
    group.add_argument("--batch", type=int, default=1000, help="events per request (≤ EVENTS_BATCH_MAX)")
    group.add_argument("--baseline-events", type=int, default=5_000, help="events through the baseline")
    group.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    group.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    group.add_argument(
        "--baseline-clients",
        type=int,
        help="concurrent clients for the baseline (default: --workers; more only makes its rollups deadlock)",
    )
    group.add_argument("--seed", type=int, default=42)
    group.add_argument(
        "--profile", metavar="FILE", help="also profile 20 batches in-process (cProfile) to FILE"
    )


class EventMaker:
    """Realistic events for a world of known accounts and contacts, plus a stream of new ones."""

    def __init__(
        self, *, seed: int, known_domains: list[str], known_emails: list[str], campaign_ids: list[int]
    ):
        self.random = random.Random(seed)
        self.known_domains = known_domains
        self.known_emails = known_emails
        self.campaign_ids = campaign_ids
        self.types, self.weights = zip(*TYPES, strict=True)
        self.now = datetime.now(UTC)
        self.serial = 0
        self.new_domains = 0

    def _new_domain(self, tag: str) -> str:
        # New companies show up repeatedly: draw from a pool that grows with the stream.
        self.new_domains += 1
        return f"prospect{self.random.randrange(1 + self.new_domains // 8)}-{tag}.com"

    def _domain(self, tag: str) -> str:
        return (
            self._new_domain(tag) if self.random.random() < 0.15 else self.random.choice(self.known_domains)
        )

    def _email(self, tag: str, new_share: float) -> str:
        r = self.random.random()
        if r >= new_share:
            return self.random.choice(self.known_emails)
        name = f"{self.random.choice(FIRST_NAMES)}.{self.random.randrange(10**6)}"
        if r < new_share * 0.2:
            return f"{name}@{self.random.choice(FREE_MAIL)}"
        return f"{name}@{self._domain(tag)}"

    def event(self, tag: str) -> dict:
        rnd = self.random
        self.serial += 1
        kind = rnd.choices(self.types, self.weights)[0]
        # A live feed: most events happened in the last day, some arrive late (up to a month).
        age = rnd.randrange(86_400) if rnd.random() < RECENT_SHARE else rnd.randrange(30 * 86_400)
        when = self.now - timedelta(seconds=age, microseconds=rnd.randrange(10**6))
        stamp = when.isoformat().replace("+00:00", "Z") if rnd.random() < 0.7 else when.isoformat()
        item: dict = {"message_id": f"{tag}-{self.serial:09d}-{rnd.getrandbits(32):08x}", "type": kind}
        item["occurred_at"] = stamp
        if kind == "page_view":
            page = rnd.choice(BLOG_POSTS) if rnd.random() < 0.3 else rnd.choice(PAGES)
            item["url"] = f"https://www.example.com{page}" + (
                "?utm_source=linkedin" if rnd.random() < 0.2 else ""
            )
            item["properties"] = {
                "referrer": rnd.choice(["google", "linkedin", "direct"]),
                "seconds": rnd.randrange(300),
            }
            if rnd.random() < 0.5:
                item["account_domain"] = self._domain(tag)  # anonymous visitor resolved to its company
            else:
                item["contact_email"] = self._email(tag, 0.1)
        elif kind == "intent":
            item["account_domain"] = self._domain(tag)
            item["topic"] = rnd.choice(TOPICS)
            item["properties"] = {"score": rnd.randrange(50, 100), "provider": "bombora"}
        elif kind in ("form_fill", "demo_request", "free_trial", "content_download"):
            item["contact_email"] = self._email(tag, 0.5)
            item["url"] = rnd.choice(["/demo", "/trial", "/ebooks/abm-guide", "/contact"])
            item["properties"] = {"form": kind, "utm_campaign": "q2-abm"}
        elif kind == "webinar":
            item["contact_email"] = self._email(tag, 0.3)
            item["campaign_id"] = rnd.choice(self.campaign_ids)
            item["topic"] = "ABM in practice"
        else:
            item["contact_email"] = self._email(tag, 0.02)
            if self.campaign_ids and rnd.random() < 0.5:
                item["campaign_id"] = rnd.choice(self.campaign_ids)
        return item

    def bodies(self, *, tag: str, events: int, batch: int) -> list[bytes]:
        bodies = []
        for start in range(0, events, batch):
            items = [self.event(tag) for _ in range(min(batch, events - start))]
            bodies.append(json.dumps({"events": items}).encode())
        return bodies


def _world() -> tuple[str, list[str], list[str], list[int]]:
    """A user with an ingest token, known accounts and contacts, a few campaigns."""
    from django.db import connection

    from accounts.models import Account, Campaign, Channel, Contact
    from revops import services
    from revops.choices import Role, TeamKind
    from revops.models import Team

    User = services.User
    user = User.objects.create_user("bench", "bench@example.com", "bench-password-1")
    team = Team.objects.filter(kind=TeamKind.MARKETING).first() or services.team_create(
        actor=None, name="Marketing", kind=TeamKind.MARKETING
    )
    services.membership_set(actor=None, user=user, team=team, role=Role.MEMBER)
    _, key = services.api_token_create(actor=None, user=user, name="bench feed", scopes=["ingest"])

    domains = [f"account{n}.example.net" for n in range(KNOWN_ACCOUNTS)]
    accounts = Account.objects.bulk_create(
        [Account(name=f"Account {n}", domain=d, industry="software") for n, d in enumerate(domains)]
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(account=a, email=f"{FIRST_NAMES[k]}.{n}@{a.domain}", first_name=FIRST_NAMES[k].title())
            for n, a in enumerate(accounts)
            for k in range(CONTACTS_PER_ACCOUNT)
        ],
        batch_size=2_000,
    )
    channel, _ = Channel.objects.get_or_create(slug="bench-events", defaults={"name": "Bench events"})
    campaigns = [Campaign.objects.create(name=f"Bench webinar {n}", channel=channel) for n in range(5)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have by now: plans for a populated database
    return key, domains, [c.email for c in contacts], [c.pk for c in campaigns]


def _measured(server: Server, database_url: str, **post) -> dict:
    """post_all, plus the CPU the app workers and the database backends spent meanwhile."""
    app, db = server.cpu_seconds(), database_cpu(database_url)
    run = post_all(port=server.port, **post)
    db_after = database_cpu(database_url)
    run["cpu_s"] = {
        "app": server.cpu_seconds() - app,
        "database": sum(cpu - db.get(pid, 0.0) for pid, cpu in db_after.items()),
    }
    return run


def _throughput(run: dict, events: int) -> dict:
    cpu = run["cpu_s"]
    cpu_total = cpu["app"] + cpu["database"]
    return {
        "events": events,
        "batches": run["batches"],
        "seconds": round(run["seconds"], 3),
        "events_per_s": round(events / run["seconds"]) if run["seconds"] else None,
        "latency_ms": run["latency_ms"],
        # Server-side CPU per 1,000 events (gunicorn workers, and this database's backends), and the
        # rate that CPU cost allows on all of this machine's cores with nothing else running.
        "cpu_ms_per_1000_events": {
            "app": round(1e6 * cpu["app"] / events, 1),
            "database": round(1e6 * cpu["database"] / events, 1),
        },
        "cpu_bound_events_per_s": round(events * (os.cpu_count() or 1) / cpu_total) if cpu_total else None,
        "failures": len(run["failures"]),
        "reconnects": run["reconnects"],
        **({"first_failure": run["failures"][0]} if run["failures"] else {}),
    }


def _profile(maker: EventMaker, key: str, batch: int, path: str) -> None:
    """Profile the whole request path in-process (middleware, auth, parse, validate, COPY, rollups)."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    bodies = maker.bodies(tag="profile", events=20 * batch, batch=batch)
    client.post(FAST_PATH, bodies.pop(), content_type="application/json")
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies:
        client.post(FAST_PATH, body, content_type="application/json")
    profiler.disable()
    profiler.dump_stats(path)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)


def run(args: argparse.Namespace) -> dict:
    """Set up the bench database and world, serve it, post the batches, and check the result."""
    env = server_environment(args.database_url)
    database_recreate(args.database_url)
    django_ready(args.database_url)
    from django.conf import settings
    from django.db import connection
    from django.db.models import Sum

    from accounts.models import AccountActivityDaily, ContactActivityDaily, EngagementEvent

    if args.batch > settings.EVENTS_BATCH_MAX:
        raise SystemExit(f"--batch may be at most {settings.EVENTS_BATCH_MAX}")
    key, domains, emails, campaign_ids = _world()
    maker = EventMaker(seed=args.seed, known_domains=domains, known_emails=emails, campaign_ids=campaign_ids)
    built = time.perf_counter()
    warmup = maker.bodies(tag="warm", events=args.workers * 4 * args.batch, batch=args.batch)
    fast = maker.bodies(tag="fast", events=args.events, batch=args.batch)
    baseline_warmup = maker.bodies(tag="bwarm", events=args.workers * 2 * 50, batch=50)
    baseline = maker.bodies(tag="base", events=args.baseline_events, batch=args.batch)
    built = time.perf_counter() - built
    connection.close()  # the servers get the database to themselves

    env["DJANGO_CONN_MAX_AGE"] = "600"  # one database session per server thread for the whole run
    with gunicorn(env=env, workers=args.workers, clients=args.clients) as server:
        post = {"token": key, "clients": args.clients}
        warmup_run = _measured(server, args.database_url, path=FAST_PATH, bodies=warmup, **post)
        fast_run = _measured(server, args.database_url, path=FAST_PATH, bodies=fast, **post)
        load_after_fast_path = os.getloadavg()
        replay_bodies = fast[: max(1, len(fast) // 10)]
        replay_run = _measured(server, args.database_url, path=FAST_PATH, bodies=replay_bodies, **post)
        baseline_warmup_run = _measured(
            server, args.database_url, path=BASELINE_PATH, bodies=baseline_warmup, **post
        )
        post["clients"] = args.baseline_clients or args.workers
        baseline_run = _measured(server, args.database_url, path=BASELINE_PATH, bodies=baseline, **post)

    fast_result = _throughput(fast_run, args.events)
    baseline_result = _throughput(baseline_run, args.baseline_events)
    baseline_result["deadlock_retries"] = sum(a.get("retries", 0) for a in baseline_run["answers"])
    replayed = sum(a["received"] for a in replay_run["answers"])
    # Every event answered 200 is in the database exactly once, and counted once in the rollups.
    expected_events = sum(a["created"] for run in (warmup_run, fast_run) for a in run["answers"]) + sum(
        a["received"] for run in (baseline_warmup_run, baseline_run) for a in run["answers"]
    )
    total_events = EngagementEvent.objects.count()
    rollup_sum = AccountActivityDaily.objects.aggregate(n=Sum("count"))["n"] or 0
    contact_sum = ContactActivityDaily.objects.aggregate(n=Sum("count"))["n"] or 0
    speedup = (
        round(fast_result["events_per_s"] / baseline_result["events_per_s"], 1)
        if fast_result["events_per_s"] and baseline_result["events_per_s"]
        else None
    )
    fast_cpu, baseline_cpu = (
        sum(r["cpu_ms_per_1000_events"].values()) for r in (fast_result, baseline_result)
    )
    speedup_cpu = round(baseline_cpu / fast_cpu, 1) if fast_cpu and baseline_cpu else None
    with_account = EngagementEvent.objects.filter(account__isnull=False).count()
    with_contact = EngagementEvent.objects.filter(contact__isnull=False).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        pg_version = cursor.fetchone()[0]
    result = {
        "database": {"url": args.database_url, "postgresql": pg_version},
        "setup": {
            "known_accounts": KNOWN_ACCOUNTS,
            "known_contacts": len(emails),
            "batch": args.batch,
            "workers": args.workers,
            "clients": args.clients,
            "baseline_clients": args.baseline_clients or args.workers,
            "server": "gunicorn gthread, keep-alive",
            "occurred_at": f"{RECENT_SHARE:.0%} in the last 24 hours, the rest in the last 30 days",
            "batches_built_s": round(built, 2),
        },
        "fast_path": {
            **fast_result,
            "created": sum(a["created"] for a in fast_run["answers"]),
            "accounts_created": sum(a["accounts_created"] for a in fast_run["answers"]),
            "contacts_created": sum(a["contacts_created"] for a in fast_run["answers"]),
        },
        "replay": {
            **_throughput(replay_run, replayed),
            "created": sum(a["created"] for a in replay_run["answers"]),
            "duplicates": sum(a["duplicates"] for a in replay_run["answers"]),
        },
        "baseline": baseline_result,
        "speedup": speedup,
        "speedup_cpu": speedup_cpu,
        "checks": {
            "events_expected": expected_events,
            "events_in_database": total_events,
            "account_rollups_sum": rollup_sum,
            "events_with_account": with_account,
            "contact_rollups_sum": contact_sum,
            "events_with_contact": with_contact,
            "consistent": total_events == expected_events
            and rollup_sum == with_account
            and contact_sum == with_contact,
        },
        "targets": {
            "events_per_s": TARGET_EVENTS_PER_S,
            "speedup": TARGET_SPEEDUP,
            "events_per_s_met": bool(
                fast_result["events_per_s"] and fast_result["events_per_s"] >= TARGET_EVENTS_PER_S
            ),
            "speedup_met": bool(speedup and speedup >= TARGET_SPEEDUP),
        },
        # Other work on the machine competes for the same cores: read events_per_s with this in mind.
        "load_average_after_fast_path": [round(x, 2) for x in load_after_fast_path],
    }
    if args.profile:
        _profile(maker, key, args.batch, args.profile)
    return result
