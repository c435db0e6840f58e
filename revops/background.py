"""Long jobs started from a page or the API — training, backtests, full rescores, what-if runs, CSV
imports — go to the Celery workers. In the embedded mode there is no broker and tasks run eagerly, in
the process that sends them: sent from a request, the request would last as long as the job. There they
run in a thread of the web process instead, so the request returns at once and the job's page shows its
progress. ``JOBS_RUN_INLINE`` (tests) keeps them in the sending thread.

When the broker cannot be reached, sending fails: ``job_send`` then calls ``failed`` with the reason in
words (the job's row is marked failed, so it never waits "running" forever) instead of raising into an
after-commit hook. Work that a committed write leaves for later is noted with ``deferred_note`` and said
in the response's ``X-Deferred-Work`` header (``revops.middleware``)."""

import logging
import threading
from collections.abc import Callable

from celery import current_app
from django.conf import settings
from django.db import connections

from .middleware import deferred_var

log = logging.getLogger(__name__)


QUEUE_DOWN = "the task queue could not be reached"


def job_send(
    send: Callable[..., object], *args, name: str, failed: Callable[[str], None] | None = None
) -> bool:
    """``send(*args)`` (typically ``some_task.delay``) now; in the embedded mode, in a thread ``name``.

    Returns False when the job could not be queued (the broker is down): ``failed(reason in words)`` has
    then been called, if given; nothing is raised."""
    if current_app.conf.task_always_eager and settings.JOBS_RUN_INLINE:
        send(*args)  # the job runs here: its own errors are the caller's (tests)
        return True
    if not current_app.conf.task_always_eager:
        try:
            send(*args)
        except Exception as exc:
            log.warning("job %s could not be queued", name, exc_info=True)
            if failed is not None:
                failed(f"Not started: {QUEUE_DOWN} ({type(exc).__name__}: {str(exc)[:200]}). "
                       "Start it again when the queue is back.")  # fmt: skip
            return False
        return True
    threading.Thread(target=_run, args=(send, args, name), name=name, daemon=True).start()
    return True


def deferred_note(words: str) -> None:
    """Note, for the current request's answer, work that will happen later (e.g. the queue was down)."""
    notes = deferred_var.get()
    if notes is not None:
        notes.append(words)


def deferred_notes() -> list[str]:
    """What the current request left for later, so far (for answers that say it in their body)."""
    return list(dict.fromkeys(deferred_var.get() or []))


def _run(send: Callable[..., object], args: tuple, name: str) -> None:
    try:
        send(*args)
    except Exception:  # the job's row records the failure; a thread has nobody to raise to
        log.exception("background job %s failed", name)
    finally:
        connections.close_all()  # this thread's connections only
