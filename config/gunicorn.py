"""gunicorn's settings for production (``gunicorn config.wsgi --config config/gunicorn.py``), from the
environment: ``GUNICORN_BIND`` (0.0.0.0:8000), ``WEB_CONCURRENCY`` (worker processes, 2),
``GUNICORN_TIMEOUT`` (seconds, 60).

Every worker process counts its own requests for /metrics. With ``PROMETHEUS_MULTIPROC_DIR`` set (an
empty directory, fresh at each start: compose mounts a tmpfs) they write their figures there and a scrape
of any one of them adds up all (``revops.instruments.scrape_registry``); a worker that exits is marked
dead so that its live gauges stop counting. Without it a scrape shows one process's figures only.
"""

import os

from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = None  # revops.logs writes one line per request (JSON in production)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
