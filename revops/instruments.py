"""The process's own Prometheus instruments: what the work did, counted where it happens.

Counters and histograms live in the process that observes them (a gunicorn worker, a Celery pool
process, a rescore's chunk process). With ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client writes
them to files there and a scrape adds up every process's (``config.ops.metrics_registry``); without it,
only the scraped process's own are seen. Figures read from the database (outbox backlog, queue depth,
active jobs) are not here: they are computed when scraped (``config.ops.OpsCollector``).
See docs/architecture.md, "The operator's view".
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

# Jobs last from a second (an outbox drain) to an hour (a full rescore, a training run).
JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))

TASK_SECONDS = Histogram(
    "revops_task_duration_seconds",
    "Celery tasks by name and outcome (success, failure, retry), seconds from start to end",
    ["task", "outcome"],
    buckets=JOB_BUCKETS,
)
TASK_FAILURES = Counter("revops_task_failures_total", "Celery tasks that raised", ["task"])
JOB_SECONDS = Histogram(
    "revops_job_duration_seconds",
    "Jobs (JobRun: imports, rescores, trainings, backtests) by kind and outcome, started to finished",
    ["kind", "outcome"],
    buckets=JOB_BUCKETS,
)
JOB_FAILURES = Counter("revops_job_failures_total", "Jobs (JobRun) that finished failed", ["kind"])
SCORED = Counter(
    "revops_scored_total",
    "Entities scored by the rules (contacts, accounts), full and incremental",
    ["entity"],
)
MODEL_SCORED = Counter(
    "revops_model_scored_total",
    "Entities scored by the learned models (accounts: in market and profile fit; contacts: persona fit), "
    "full and incremental",
    ["entity"],
)
EVENTS_INGESTED = Counter(
    "revops_events_ingested_total",
    "Events accepted by the batch API and imports, by result (created, duplicate)",
    ["result"],
)


class _Forward:
    """A registry's metrics, collected again into another registry."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        return self.source.collect()


def scrape_registry(*extra) -> CollectorRegistry:
    """What one scrape shows: every process's instruments (``PROMETHEUS_MULTIPROC_DIR``: added up from its
    files) or this process's own, plus the ``extra`` collectors (figures computed when scraped)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return registry
