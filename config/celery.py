"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

import os

from celery import Celery
from celery.signals import celeryd_init

from revops import workerops  # noqa: F401  (every task logged and timed, the worker's heartbeat)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("revops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def _share_cores(options=None, conf=None, **kwargs) -> None:
    """Each pool process of this worker predicts with XGBoost on its share of the cores: ``--concurrency``
    processes run side by side already, and more threads than cores only spin. Set before the pool
    forks, read by ``scoring.learned.families.loaded``."""
    processes = (options or {}).get("concurrency") or getattr(conf, "worker_concurrency", None)
    cores = os.cpu_count() or 1
    os.environ["REVOPS_XGB_THREADS"] = str(max(1, cores // int(processes or cores)))
