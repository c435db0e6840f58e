"""API lists and pages at size: every filter of every API list, and the pages people open first, on the
rescore section's demo world (100,000 accounts: ~976,000 contacts, ~10 million events).

The world is the rescore section's (``seed_demo``, then rescored), used as it is: a database of this
section's own is a copy of it (``createdb -T``), or the rescore database itself. Setup, untimed: the
project's migrations (the indexes of later versions), a user who reads everything (a revenue-operations
lead) with a read token, and — when the world has no learned scores (the rescore section writes only
the rules scores) — a stand-in learned score per account, banded by the published policy as the plans
section does, so that the in-market list, the buying stages and "accounts in market" read 100,000 rows
as they would in production; then ``ANALYZE``.

Timed:

1. ``api``: a real gunicorn (one gthread worker) answering ``GET /api/<list>/?<filter>=<value>`` with the
   token, one request at a time on a kept-alive connection, time to the last byte. Every list endpoint
   of the router, unfiltered and then each filter of its FilterSet alone, with values drawn from the
   data (every choice of a choice filter, booleans both ways, ids present in the column, the 10th / 50th
   / 90th percentile of a number or a date, a word of a name for a search and one that matches nothing,
   which is the slowest case of a search). ``--pages-api-requests`` requests per filter after a warm-up,
   cycling through its values; p50, p95 and max. Target: p95 ≤ 50 ms for every one.
2. ``pages``: Django's test client in-process, signed in as that user: server time (middleware, session,
   view, queries, template) and the queries per request, ``--pages-page-requests`` requests after two
   warm-ups; p50, p95, and the first request's time apart (``first_ms``: a figure a page keeps a few
   minutes, ``scoring.metrics.figure_kept``, is counted then). Target: p50 ≤ 300 ms.

Throttling is off for the bench server (``API_THROTTLE_READ`` empty): these are the reads of one client,
measured, not rate-limited. The figures before the optimisation were measured with this same file on
the code before it (docs/benchmarks.md, "pages").
"""

import argparse
import datetime
import http.client
import os
import random
import statistics
import sys
import time
import urllib.parse
from collections import Counter

from . import db as bench_db
from . import rescore as world
from .db import percentile, queries_counted
from .server import gunicorn

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_API_P95_MS = 50
TARGET_PAGE_P50_MS = 300
BENCH_USER = "bench-pages"
NO_MATCH = "zqxjv"  # a search that matches nothing: every row is looked at
SAMPLE_IDS = 400  # random ids probed per table to draw filter values from


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--pages-database-url",
        help="PostgreSQL database of the world (a copy of the rescore section's, or its own; default: "
        "$BENCH_PAGES_DATABASE_URL or the rescore section's database); its name must contain 'bench'",
    )
    group.add_argument("--pages-api-requests", type=int, default=12, help="timed requests per API filter")
    group.add_argument("--pages-page-requests", type=int, default=10, help="timed requests per page")
    group.add_argument(
        "--pages-only-api", help="comma-separated API lists to time (default: every list of the router)"
    )
    group.add_argument(
        "--pages-redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"Redis (cache) of the bench server (default {DEFAULT_REDIS_URL})",
    )
    group.add_argument("--pages-skip-api", action="store_true", help="only the pages")
    group.add_argument("--pages-skip-pages", action="store_true", help="only the API lists")


def _database_url(args: argparse.Namespace) -> str:
    own = args.pages_database_url or os.environ.get("BENCH_PAGES_DATABASE_URL")
    return world.shared_database_url(args, own)


# --- setup ----------------------------------------------------------------------------------------------
def _user():
    """A revenue-operations lead (reads every list and page) and a read token of theirs."""
    from django.contrib.auth import get_user_model

    from revops import services
    from revops.choices import Role, TeamKind
    from revops.models import Team

    user, _ = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"email": "bench-pages@example.com"}
    )
    team = Team.objects.filter(kind=TeamKind.REVENUE_OPERATIONS).order_by("pk").first()
    if team is None:
        team = services.team_create(actor=None, name="Revenue operations", kind=TeamKind.REVENUE_OPERATIONS)
    services.membership_set(actor=None, user=user, team=team, role=Role.LEAD)
    _token, key = services.api_token_create(actor=user, user=user, name="bench pages", scopes=["read"])
    return user, key


def _learned_scores() -> dict:
    """A stand-in learned score per account when the world has none (see the module docstring)."""
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account
    from revops.bulk import bulk_insert
    from scoring.choices import Band, BuyingStage
    from scoring.models import AccountModelScore
    from scoring.policy import policy_published

    existing = AccountModelScore.objects.count()
    if existing:
        return {"stand_in": False, "scores": existing}
    policy = policy_published()
    if policy is None:
        raise SystemExit("No published qualification policy: the migrations ship one; migrate first.")
    ids = np.array(Account.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    rng = np.random.default_rng([len(ids), 0x9A6E5])
    in_market, fit = rng.beta(0.6, 4.0, len(ids)), rng.uniform(0, 100, len(ids))
    now, today = timezone.now(), timezone.localdate()
    stages = [BuyingStage.TARGET, BuyingStage.AWARENESS, BuyingStage.CONSIDERATION, BuyingStage.DECISION]

    def band(value: float, high: float, medium: float) -> str:
        return Band.HIGH if value >= high else Band.MEDIUM if value >= medium else Band.LOW

    rows = []
    for pk, p, f in zip(ids.tolist(), in_market.tolist(), fit.tolist(), strict=True):
        market_band = band(p, policy.in_market_high_min, policy.in_market_medium_min)
        fit_band = band(f, policy.fit_high_min, policy.fit_medium_min)
        qualified = market_band != Band.LOW and fit_band != Band.LOW
        stage = stages[min(3, int(p * 10))]
        rows.append((pk, policy.pk, today, f, fit_band, p, market_band, qualified, stage, now, [], now))
    columns = ["account_id", "policy_id", "as_of", "profile_fit", "fit_band", "in_market", "in_market_band"]
    columns += ["qualified", "stage", "stage_since", "contributions", "scored_at"]
    bulk_insert(AccountModelScore._meta.db_table, columns, rows)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AccountModelScore._meta.db_table}")
    return {"stand_in": True, "scores": len(rows), "qualified": sum(1 for r in rows if r[7])}


def _analyze() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return round(time.perf_counter() - started, 1)


# --- filter values ---------------------------------------------------------------------------------------
def _sample_rows(model, paths: list[str]) -> list[dict]:
    """Rows of ``model`` at random ids (cheap on ten million rows: a probe of the primary key)."""
    from django.db.models import Max, Min

    bounds = model._base_manager.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    rng = random.Random(f"{model._meta.label}")
    ids = {rng.randint(bounds["lo"], bounds["hi"]) for _ in range(SAMPLE_IDS)}
    return list(model._base_manager.filter(pk__in=ids).values(*paths))


def _present(model, path: str, limit: int = 4) -> list:
    """Up to ``limit`` distinct non-empty values of ``path`` among random rows of ``model``."""
    try:
        values = [row[path] for row in _sample_rows(model, [path])]
    except Exception:  # noqa: BLE001  (a path the ORM cannot read as a value: no value then)
        return []
    seen = []
    for value in values:
        if value not in (None, "") and value not in seen:
            seen.append(value)
    return seen[:limit]


def _quantiles(model, path: str) -> list:
    values = sorted(v for v in (row[path] for row in _sample_rows(model, [path])) if v is not None)
    if not values:
        return []
    return [values[min(len(values) - 1, int(q * len(values)))] for q in (0.1, 0.5, 0.9)]


def _as_param(value) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "pk", value))


# Filters whose values are read by a method (no field to sample) or that need a value of a kind.
def _special(name: str, model) -> list | None:
    from accounts.models import AccountActivityDaily
    from campaigns.models import Segment
    from scoring.models import Notification

    if name == "intent_topics":
        rows = AccountActivityDaily.objects.filter(event_type="intent").exclude(key="")
        return list(dict.fromkeys(rows.values_list("key", flat=True)[:200]))[:3]
    if name == "industry_in":
        return _present(model, "industry", 3)
    if name in ("intent_days", "event_days"):
        return [30, 90]
    if name == "event_min":
        return [1, 5]
    if name in ("segment", "not_segment"):
        return list(Segment.objects.order_by("pk").values_list("pk", flat=True)[:4])
    if name == "notification":
        return list(Notification.objects.order_by("-pk").values_list("pk", flat=True)[:2])
    if name == "as_of":
        return [datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=d) for d in (1, 90)]
    return None


def filter_values(filterset_class, name: str, filt) -> list:
    """Values for ``?name=…`` drawn from the data (see the module docstring); [] when none is found."""
    import django_filters

    from revops.filtersets import SearchFilter

    model = filterset_class._meta.model
    special = _special(name, model)
    if special is not None:
        return special
    if isinstance(filt, SearchFilter):
        words = []
        for value in _present(model, filt.search_fields[0], 3):
            text = str(value).split("@")[0].split()[0] if str(value).split() else ""
            if len(text) >= 3:
                words.append(text[:4])
        return [*words[:2], NO_MATCH]
    if isinstance(filt, django_filters.BooleanFilter):
        return [True, False]
    path = None if filt.method else filt.field_name
    if isinstance(filt, django_filters.ChoiceFilter | django_filters.MultipleChoiceFilter):
        choices = filt.extra.get("choices")
        if choices and not callable(choices):
            values = [value for value, _label in choices if value not in ("", None)]
            if len(values) <= 12 or not path:
                return values[:12]
            # Many choices (countries): some present in the data, and one absent (matches nothing).
            present = _present(model, path, 3)
            return [*present, next(v for v in values if v not in present)]
        if path:
            return _present(model, path)
    if isinstance(filt, django_filters.ModelChoiceFilter | django_filters.ModelMultipleChoiceFilter):
        queryset = filt.extra.get("queryset")
        if queryset is not None:
            return list(queryset.order_by("?").values_list("pk", flat=True)[:3])
    if isinstance(filt, django_filters.DateFilter | django_filters.DateTimeFilter):
        if path and filt.lookup_expr in ("gte", "lte", "gt", "lt"):
            values = _quantiles(model, path)
            if values:
                return values
        today = datetime.datetime.now(datetime.UTC)
        days = [today - datetime.timedelta(days=d) for d in (7, 90, 365)]
        return days if isinstance(filt, django_filters.DateTimeFilter) else [d.date() for d in days]
    values = []
    if path:
        if filt.lookup_expr in ("gte", "lte", "gt", "lt"):
            values = _quantiles(model, path)
        else:
            values = _present(model, path)
    least, most = filt.extra.get("min_value"), filt.extra.get("max_value")
    if least is not None:
        values = [max(v, least) for v in values]
    if most is not None:
        values = [min(v, most) for v in values]
    if values:
        return values
    # Nothing in the column (no row has one): a value that matches nothing, the slowest case of a filter.
    if isinstance(filt, django_filters.UUIDFilter):
        return ["00000000-0000-0000-0000-000000000000"]
    if isinstance(filt, django_filters.NumberFilter):
        return [most if most is not None else 999_999_999]
    if isinstance(filt, django_filters.CharFilter):
        return [NO_MATCH]
    return []


def api_cases(only: set[str] | None) -> list[dict]:
    """Every list endpoint of the router: its unfiltered list and each filter alone with its values."""
    from django_filters.rest_framework import DjangoFilterBackend
    from rest_framework import mixins

    from config.api_router import router

    cases = []
    backend = DjangoFilterBackend()
    for prefix, viewset, _basename in router.registry:
        if not issubclass(viewset, mixins.ListModelMixin) or (only and prefix not in only):
            continue
        view = viewset()
        queryset = getattr(viewset, "queryset", None)
        try:
            filterset_class = backend.get_filterset_class(view, queryset)
        except Exception:  # noqa: BLE001  (a view that builds its FilterSet from a request: unfiltered only)
            filterset_class = None
        cases.append({"endpoint": prefix, "filter": None, "values": [None]})
        if filterset_class is None:
            continue
        for name, filt in filterset_class.base_filters.items():
            values = filter_values(filterset_class, name, filt)
            cases.append({"endpoint": prefix, "filter": name, "values": values})
    return cases


# --- timing ---------------------------------------------------------------------------------------------
def _summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(1000 * percentile(ordered, 0.50), 1),
        "p95_ms": round(1000 * percentile(ordered, 0.95), 1),
        "max_ms": round(1000 * (ordered[-1] if ordered else 0), 1),
    }


def _get(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[int, float, bytes]:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    return response.status, time.perf_counter() - started, body


def api_lists(*, url: str, redis_url: str, token: str, requests: int, only: set[str] | None) -> dict:
    """Time every case of ``api_cases`` through gunicorn (see the module docstring)."""
    cases = api_cases(only)
    env = {**bench_db.server_environment(url), "REDIS_URL": redis_url, "API_THROTTLE_READ": ""}
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    results, slow, failed, skipped = [], [], [], []
    with gunicorn(env=env, workers=1, clients=1) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        for case in cases:
            endpoint, name, values = case["endpoint"], case["filter"], case["values"]
            if not values:
                skipped.append(f"{endpoint}?{name}")
                continue
            paths = []
            for value in values:
                query = "" if name is None else "?" + urllib.parse.urlencode({name: _as_param(value)})
                paths.append(f"/api/{endpoint}/{query}")
            latencies, statuses = [], Counter()
            for n in range(len(paths) + max(requests, len(paths))):
                path = paths[n % len(paths)]
                status, seconds, body = _get(conn, path, headers)
                if n < len(paths):
                    continue  # a warm-up of each value
                statuses[status] += 1
                latencies.append(seconds)
                if status != 200 and len(failed) < 20:
                    failed.append(f"{status} {path}: {body[:200].decode(errors='replace')}")
            summary = _summary(latencies)
            row = {
                "endpoint": endpoint,
                "filter": name or "(none)",
                "values": [_as_param(v) for v in values if v is not None],
                "requests": len(latencies),
                "statuses": dict(statuses),
                **summary,
                "p95_under_50ms_met": summary["p95_ms"] <= TARGET_API_P95_MS,
            }
            results.append(row)
            if not row["p95_under_50ms_met"]:
                slow.append(f"{endpoint}?{row['filter']}: p95 {summary['p95_ms']} ms")
            print(
                f"bench: api {endpoint}?{row['filter']}: p50 {summary['p50_ms']} p95 {summary['p95_ms']} ms",
                file=sys.stderr,
                flush=True,
            )
        conn.close()
    return {
        "client": "one keep-alive connection to gunicorn (1 gthread worker), token auth, page size 50; "
        "time to the last byte",
        "cases": len(results),
        "results": results,
        "over_target": slow,
        "not_200": failed,
        "skipped_no_value": skipped,
        "every_p95_under_50ms_met": not slow and not failed,
    }


def _pages() -> dict[str, str]:
    from django.urls import reverse

    from accounts.models import Account

    account = Account.objects.order_by("pk").values_list("pk", flat=True)
    middle = account[max(0, account.count() // 2)] if account.exists() else 0
    return {
        "dashboard": reverse("home"),
        "campaigns": reverse("campaigns:campaign_list"),
        "funnel": reverse("scoring:funnel"),
        "in_market": reverse("scoring:inmarket_list"),
        "accounts_list": reverse("accounts:account_list"),
        "account": reverse("accounts:account_detail", args=[middle]),
        "contacts_list": reverse("accounts:contact_list"),
        "contacts_mql": reverse("accounts:contact_list") + "?lifecycle_stage=mql",
        "metrics": reverse("plans:sales_metrics"),
    }


def pages(*, user, requests: int) -> dict:
    """Each page through Django's test client, signed in (see the module docstring)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    out: dict = {"client": "django.test.Client in-process (middleware, session, view, queries, template)"}
    for name, path in _pages().items():
        latencies, queries_each, statuses, first = [], [], Counter(), None
        for n in range(2 + requests):
            with queries_counted() as queries:
                started = time.perf_counter()
                response = client.get(path)
                seconds = time.perf_counter() - started
            if n < 2:
                first = seconds if first is None else first
                continue
            statuses[response.status_code] += 1
            latencies.append(seconds)
            queries_each.append(queries[0])
        summary = _summary(latencies)
        out[name] = {
            "path": path,
            "statuses": dict(statuses),
            "queries": statistics.median(queries_each),
            # The first request of the run: figures a page keeps (scoring.metrics.figure_kept) are counted
            # then, so this is what the first reader after a change waits.
            "first_ms": round(1000 * (first or 0), 1),
            **summary,
            "p50_under_300ms_met": summary["p50_ms"] <= TARGET_PAGE_P50_MS and set(statuses) == {200},
        }
        print(f"bench: page {name}: p50 {summary['p50_ms']} p95 {summary['p95_ms']} ms", file=sys.stderr)
    return out


# --- the section ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    url = _database_url(args)
    if bench_db.ready_url() not in (None, url):
        return world.in_own_process(
            "pages", args, own=("pages_",), url_flag="--pages-database-url", url=url, reseed=False
        )
    started = time.perf_counter()
    bench_db.django_ready(url)  # migrates: the indexes of this version
    migrate_s = round(time.perf_counter() - started, 1)
    from django.db import connection

    counts = world._counts()
    if not counts["accounts"]:
        raise SystemExit(f"{url} holds no world: run the rescore section first (or copy its database).")
    scores = _learned_scores()
    user, token = _user()
    analyze_s = _analyze()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        (pg_version,) = cursor.fetchone()
    load_before = os.getloadavg()
    result: dict = {
        "database": {"url": url, "postgresql": pg_version},
        "world": {
            **counts,
            "learned_scores": scores,
            "migrate_seconds": migrate_s,
            "analyze_seconds": analyze_s,
        },
        "load_average_before": [round(x, 2) for x in load_before],
    }
    only = {s.strip() for s in args.pages_only_api.split(",")} if args.pages_only_api else None
    if not args.pages_skip_api:
        result["api"] = api_lists(
            url=url, redis_url=args.pages_redis_url, token=token, requests=args.pages_api_requests, only=only
        )
    if not args.pages_skip_pages:
        result["pages"] = pages(user=user, requests=args.pages_page_requests)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    page_results = {k: v for k, v in result.get("pages", {}).items() if isinstance(v, dict)}
    result["targets"] = {
        "api_p95_ms": TARGET_API_P95_MS,
        "page_p50_ms": TARGET_PAGE_P50_MS,
        "api_every_filter_p95_under_50ms_met": result.get("api", {}).get("every_p95_under_50ms_met"),
        **{f"page_{name}_p50_under_300ms_met": p["p50_under_300ms_met"] for name, p in page_results.items()},
    }
    result.update(bench_db.load_warning(load_before[0], "before the measurement", what="times"))
    return result
