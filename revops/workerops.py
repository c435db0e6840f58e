"""Celery seen from outside: a log line and a duration for every task, and a worker heartbeat.

Connected to Celery's signals once, by importing this module (``config.celery`` does): every task is
timed and logged in one place, none has to do it itself. Eager tasks (the embedded mode, tests) send
the same signals, so they are logged and counted too.

The heartbeat: each worker's main process writes the time into the shared cache (Redis) every
``WORKER_HEARTBEAT_SECONDS``; ``/readyz`` reads it (``worker_heartbeat_age``). Cheaper than asking the
workers over the broker (``inspect ping`` waits for every reply up to its timeout) and it outlives no
worker: a worker that is gone stops writing.
"""

import logging
import os
import threading
import time

from celery.signals import (
    task_postrun,
    task_prerun,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings
from django.core.cache import cache
from prometheus_client import start_http_server

from .instruments import TASK_FAILURES, TASK_SECONDS, scrape_registry

log = logging.getLogger("revops.task")
HEARTBEAT_KEY = "ops:worker-heartbeat"

_started: dict[str, float] = {}  # task id -> perf_counter at its start, in the process that runs it
_stop = threading.Event()
_beater: threading.Thread | None = None


@task_prerun.connect(dispatch_uid="revops.workerops.task_started")
def task_started(task_id=None, task=None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect(dispatch_uid="revops.workerops.task_finished")
def task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    """One line per task: name, id, duration, outcome (success, failure, retry, …)."""
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    # A task that raised where errors propagate (eager, in the web process and tests) ends with no state.
    outcome = state.lower() if state else "failure"
    if outcome == "failure":
        TASK_FAILURES.labels(task=name).inc()
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    if duration_ms is not None:
        TASK_SECONDS.labels(task=name, outcome=outcome).observe(duration_ms / 1000)
    level = logging.ERROR if outcome == "failure" else logging.INFO
    fields = {"task": name, "task_id": task_id, "duration_ms": duration_ms, "outcome": outcome}
    log.log(level, "task %s %s %s in %s ms", name, task_id, outcome, duration_ms, extra=fields)


def heartbeat_write() -> None:
    """Say this worker is alive now (kept twice the stale limit, then forgotten)."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=int(settings.HEALTH_WORKER_STALE_SECONDS * 2) or None)


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker last said it was alive, or None when none has (or it was forgotten)."""
    beat = cache.get(HEARTBEAT_KEY)
    return None if beat is None else max(0.0, time.time() - float(beat))


def _beat_forever() -> None:
    while not _stop.is_set():
        try:
            heartbeat_write()
        except Exception:  # the cache is down: readiness says so; keep trying
            logging.getLogger(__name__).warning("could not write the worker heartbeat", exc_info=True)
        _stop.wait(settings.WORKER_HEARTBEAT_SECONDS)


@worker_ready.connect(dispatch_uid="revops.workerops.heartbeat_start")
def heartbeat_start(**kwargs) -> None:
    """Beat from a thread of the worker's main process until it shuts down."""
    global _beater
    if _beater is not None and _beater.is_alive():
        return
    _stop.clear()
    _beater = threading.Thread(target=_beat_forever, name="worker-heartbeat", daemon=True)
    _beater.start()


@worker_shutdown.connect(dispatch_uid="revops.workerops.heartbeat_stop")
def heartbeat_stop(**kwargs) -> None:
    _stop.set()
    if _beater is not None:
        _beater.join(timeout=5)


@worker_ready.connect(dispatch_uid="revops.workerops.metrics_serve")
def metrics_serve(**kwargs) -> None:
    """``WORKER_METRICS_PORT``: the worker's own instruments (tasks, jobs, scores) for Prometheus on that
    port of the worker's host, added up over its pool processes when ``PROMETHEUS_MULTIPROC_DIR`` is set.
    No token: a port for the private network only, never published."""
    port = os.environ.get("WORKER_METRICS_PORT", "")
    if port:
        start_http_server(int(port), registry=scrape_registry())
