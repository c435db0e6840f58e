"""The operator's endpoints: ``/healthz`` (the process answers), ``/readyz`` (it can serve: database,
Redis, migrations, a Celery worker, the scoring outbox's backlog) and ``/metrics`` (Prometheus).

They are answered by ``OpsEndpointsMiddleware``, near the top of the middleware: before the host check
(probes and Prometheus call the container by its address, not the site's name), the HTTPS redirect,
sessions, sign-in and the API's throttles, none of which applies to them. ``/metrics`` is refused unless
the caller has ``METRICS_TOKEN`` as a bearer token or an address in ``METRICS_ALLOWED_IPS``.
No answer names a host, a user or a password: a failing check says what failed in words and the
exception's type. See README.md, "Operating it", and docs/architecture.md, "The operator's view".
"""

import functools
import hmac
import ipaddress
import logging
import time

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from revops.choices import JobStatus
from revops.clientip import client_ip
from revops.instruments import scrape_registry
from revops.models import JobRun
from revops.workerops import worker_heartbeat_age
from scoring.rescore import outbox_backlog

from .celery import app as celery_app

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 1.0  # a dependency slower than this to answer a probe is as good as down
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists of their own.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


class CheckFailed(Exception):
    """A readiness check that did not pass; its message says why, in words fit to show anyone."""


# --- the checks -------------------------------------------------------------------------------------------
def _failure_words(exc: Exception) -> str:
    # An exception's text may name hosts and users (a driver's connection error does): only its type.
    return f"unreachable ({type(exc).__name__})"


@functools.cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        raise CheckFailed(_failure_words(exc)) from exc
    return {}


def check_redis() -> dict:
    try:
        redis_client(settings.REDIS_URL).ping()
    except Exception as exc:
        raise CheckFailed(_failure_words(exc)) from exc
    return {}


@functools.cache
def _migrations_on_disk() -> frozenset[tuple[str, str]]:
    """Every migration this code has (read from disk once a process: the code does not change under it)."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def unapplied_migrations() -> list[str]:
    applied = set(MigrationRecorder(connection).applied_migrations())
    return sorted(f"{app}.{name}" for app, name in _migrations_on_disk() - applied)


def check_migrations() -> dict:
    unapplied = unapplied_migrations()
    if unapplied:
        shown = ", ".join(unapplied[:5]) + (f" and {len(unapplied) - 5} more" if len(unapplied) > 5 else "")
        raise CheckFailed(f"{len(unapplied)} migrations not applied: {shown} (run manage.py migrate)")
    return {}


def shared_cache() -> bool:
    """Whether the cache is one the workers share (Redis), not this process's memory."""
    return not isinstance(caches["default"], LocMemCache)


def check_worker() -> dict:
    """A Celery worker said it was alive lately (``revops.workerops``); without a shared cache to hear it
    in, one answers a ping. Eager Celery (the embedded mode) has no worker and needs none."""
    if celery_app.conf.task_always_eager:
        return {"mode": "eager: tasks run in the web process"}
    stale = settings.HEALTH_WORKER_STALE_SECONDS
    if shared_cache():
        try:
            age = worker_heartbeat_age()
        except Exception as exc:
            raise CheckFailed(f"heartbeat unreadable: {_failure_words(exc)}") from exc
        if age is None or age > stale:
            raise CheckFailed(f"no Celery worker has sent a heartbeat in the last {stale:g} s")
        return {"heartbeat_age_seconds": round(age, 1)}
    try:
        replies = celery_app.control.ping(timeout=TIMEOUT_SECONDS)
    except Exception as exc:
        raise CheckFailed(_failure_words(exc)) from exc
    if not replies:
        raise CheckFailed(f"no Celery worker answered a ping within {TIMEOUT_SECONDS:g} s")
    return {"workers": len(replies)}


def _outbox_now() -> tuple[int, float | None, int]:
    pending, oldest, parked = outbox_backlog()
    age = (timezone.now() - oldest).total_seconds() if oldest is not None else None
    return pending, age, parked


def check_outbox() -> dict:
    """The scoring outbox's backlog: unready only past ``HEALTH_OUTBOX_MAX_PENDING`` rows or an oldest row
    older than ``HEALTH_OUTBOX_MAX_AGE_SECONDS`` (0 turns either off)."""
    pending, age, parked = _outbox_now()
    found = {
        "pending": pending,
        "oldest_age_seconds": round(age, 1) if age is not None else None,
        "parked": parked,
    }
    most, oldest = settings.HEALTH_OUTBOX_MAX_PENDING, settings.HEALTH_OUTBOX_MAX_AGE_SECONDS
    if most and pending > most:
        raise CheckFailed(f"{pending} rows waiting to be rescored, more than {most}", found)
    if oldest and age is not None and age > oldest:
        raise CheckFailed(f"the oldest row has waited {age:.0f} s, more than {oldest} s", found)
    return found


def readiness() -> tuple[bool, dict]:
    """Every check that applies, each ``{"ok": …}`` with what it found or why it failed."""
    checks = [("database", check_database)]
    if settings.REDIS_URL:
        checks.append(("redis", check_redis))
    checks += [("migrations", check_migrations), ("worker", check_worker), ("outbox", check_outbox)]
    results: dict[str, dict] = {}
    for name, check in checks:
        if name in ("migrations", "outbox") and not results["database"]["ok"]:
            results[name] = {"ok": False, "error": "not checked: the database is unreachable"}
            continue
        started = time.perf_counter()
        try:
            found = {"ok": True, **check()}
        except CheckFailed as exc:
            found = {"ok": False, "error": str(exc.args[0]), **(exc.args[1] if len(exc.args) > 1 else {})}
        except Exception as exc:  # a check that breaks is a failing check, not a 500
            log.warning("readiness check %s broke", name, exc_info=True)
            found = {"ok": False, "error": _failure_words(exc)}
        found["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = found
    return all(r["ok"] for r in results.values()), results


# --- the views --------------------------------------------------------------------------------------------
def _plain(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def healthz(request) -> HttpResponse:
    """The process is up and answers; touches nothing else (a liveness probe restarts what fails it)."""
    return _plain(JsonResponse({"status": "ok"}))


def readyz(request) -> HttpResponse:
    """200 when every check passes, else 503 naming the failing ones (a readiness probe stops sending
    traffic, and ``docker compose`` holds back what depends on the web, until it passes)."""
    ok, checks = readiness()
    body = {
        "status": "ok" if ok else "unavailable",
        "failing": [name for name, found in checks.items() if not found["ok"]],
        "checks": checks,
    }
    return _plain(JsonResponse(body, status=200 if ok else 503))


@functools.cache
def _networks(addresses: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(a.strip(), strict=False) for a in addresses if a.strip())


def metrics_allowed(request) -> bool:
    """A bearer token equal to ``METRICS_TOKEN``, or a client address in ``METRICS_ALLOWED_IPS``."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


class OpsCollector:
    """Figures read when Prometheus scrapes, not kept between scrapes: the outbox's backlog and its oldest
    row's age, Celery's queue lengths (Redis broker), jobs pending and running, the worker's heartbeat.
    A part that cannot be read is left out and said in ``revops_collector_up``."""

    def collect(self):
        up = GaugeMetricFamily(
            "revops_collector_up", "Whether a part of the scrape could be read", labels=["part"]
        )
        for part, read in (("outbox", self._outbox), ("queues", self._queues), ("jobs", self._jobs)):
            try:
                yield from list(read())
                up.add_metric([part], 1)
            except Exception:
                log.warning("metrics: could not read the %s", part, exc_info=True)
                up.add_metric([part], 0)
        age = None if celery_app.conf.task_always_eager or not shared_cache() else worker_heartbeat_age()
        if age is not None:
            yield GaugeMetricFamily(
                "revops_worker_heartbeat_age_seconds",
                "Seconds since a Celery worker said it was alive",
                value=age,
            )
        yield up

    def _outbox(self):
        pending, age, parked = _outbox_now()
        yield GaugeMetricFamily("revops_outbox_backlog", "Scoring outbox rows not yet drained", value=pending)
        yield GaugeMetricFamily(
            "revops_outbox_oldest_age_seconds",
            "Age of the oldest scoring outbox row not yet drained (0: none)",
            value=age or 0,
        )
        yield GaugeMetricFamily(
            "revops_outbox_parked", "Scoring outbox rows parked for a replay", value=parked
        )

    def _queues(self):
        broker = celery_app.conf.broker_url or ""
        if not broker.startswith(("redis://", "rediss://")):
            return
        names = {celery_app.conf.task_default_queue} | {q.name for q in celery_app.conf.task_queues or ()}
        client = redis_client(broker)
        family = GaugeMetricFamily(
            "revops_celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
        )
        for name in sorted(names):
            family.add_metric([name], sum(client.llen(name + suffix) for suffix in PRIORITY_SUFFIXES))
        yield family

    def _jobs(self):
        family = GaugeMetricFamily("revops_jobs_active", "Jobs pending or running", labels=["kind", "status"])
        rows = JobRun.objects.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING]).values_list(
            "kind", "status"
        )
        counts: dict[tuple[str, str], int] = {}
        for row in rows.order_by():
            counts[row] = counts.get(row, 0) + 1
        for (kind, status), n in sorted(counts.items()):
            family.add_metric([kind, status], n)
        yield family


def metrics(request) -> HttpResponse:
    """Prometheus text format: request latencies and counts (django-prometheus), the process's instruments
    (``revops.instruments``) and the figures read now (``OpsCollector``)."""
    if not metrics_allowed(request):
        if settings.METRICS_TOKEN:
            response = JsonResponse({"detail": "A valid bearer token is required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        else:
            response = JsonResponse(
                {"detail": "Metrics are not served to this address (METRICS_TOKEN, METRICS_ALLOWED_IPS)."},
                status=403,
            )
        return _plain(response)
    body = generate_latest(scrape_registry(OpsCollector()))
    # The text format every Prometheus reads (2.x and 3.x); generate_latest writes names it accepts.
    return _plain(HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4))


OPS_VIEWS = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


class OpsEndpointsMiddleware:
    """Answer ``/healthz``, ``/readyz`` and ``/metrics`` before the rest of the middleware (see above)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = OPS_VIEWS.get(request.path_info.rstrip("/"))
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _plain(JsonResponse({"detail": f"Method {request.method} not allowed."}, status=405))
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)
