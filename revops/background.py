"""Long jobs started from a page or the API — training, backtests, full rescores, what-if runs, CSV
imports — go to the Celery workers. In the embedded mode there is no broker and tasks run eagerly, in
the process that sends them: sent from a request, the request would last as long as the job. There they
run in a thread of the web process instead, so the request returns at once and the job's page shows its
progress. ``JOBS_RUN_INLINE`` (tests) keeps them in the sending thread."""

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)


def job_send(send: Callable[..., object], *args, name: str) -> None:
    """``send(*args)`` (typically ``some_task.delay``) now; in the embedded mode, in a thread ``name``."""
    from revops.celery import app

    if not app.conf.task_always_eager or settings.JOBS_RUN_INLINE:
        send(*args)
        return
    threading.Thread(target=_run, args=(send, args, name), name=name, daemon=True).start()


def _run(send: Callable[..., object], args: tuple, name: str) -> None:
    try:
        send(*args)
    except Exception:  # the job's row records the failure; a thread has nobody to raise to
        log.exception("background job %s failed", name)
    finally:
        connections.close_all()  # this thread's connections only
