"""Long jobs started from a page or the API — training, backtests, full rescores, what-if runs, CSV
imports — go to the Celery workers. In the embedded mode there is no broker and tasks run eagerly, in
the process that sends them: sent from a request, the request would last as long as the job. There they
run in a thread of the web process instead, so the request returns at once and the job's page shows its
progress. ``JOBS_RUN_INLINE`` (tests) keeps them in the sending thread.

Work that many requests ask for and one run catches up on (the scoring outbox's drain) goes, in the
embedded mode, to ``debounced_run``: one thread of that name per process, which waits a moment for more
requests to ask, then runs once for all of them, and again if more asked meanwhile. While requests keep
asking during every run (a steady feed), the wait doubles from run to run up to a bound, so one run takes
the work of many requests instead of redoing the same work every moment; a run that nobody asked for
again meanwhile brings the wait back to the first one.

When the broker cannot be reached, sending fails: ``job_send`` then calls ``failed`` with the reason in
words (the job's row is marked failed, so it never waits "running" forever) instead of raising into an
after-commit hook. Work that a committed write leaves for later is noted with ``deferred_note`` and said
in the response's ``X-Deferred-Work`` header (``revops.middleware``)."""

import logging
import os
import threading
import time
from collections.abc import Callable

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from .middleware import deferred_var

log = logging.getLogger(__name__)


QUEUE_DOWN = "the task queue could not be reached"
IDLE_SECONDS = 2  # a debounced run's thread closes its database connections after this long without work


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


class _Debounced:
    """One thread that runs ``run()`` once per burst of ``poke()``s, ``wait`` seconds after the first.

    ``wait`` is ``delay`` after a quiet moment; when pokes came during a run (work keeps arriving), it
    doubles for the next run, up to ``max_delay``, and falls back to ``delay`` after a run nobody poked
    during. A poke during a run is never lost: the flag is cleared before the run starts, so that run or
    the next one sees what the poke's caller committed. The thread lives as long as the process (idle, it
    only waits); an exception in ``run`` is logged and the thread waits for the next poke."""

    def __init__(self, run: Callable[[], object], name: str, delay: float, max_delay: float | None = None):
        self.run, self.name, self.delay = run, name, delay
        self.max_delay = delay if max_delay is None else max(delay, max_delay)
        self.wait = delay  # before the next run
        self.wanted = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def poke(self) -> None:
        self.wanted.set()
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        _os_thread_name(self.name)
        while True:
            if not self.wanted.wait(IDLE_SECONDS):
                connections.close_all()  # this thread's: an idle thread holds no database session
                self.wanted.wait()
            self._run_once()

    def _run_once(self) -> None:
        time.sleep(self.wait)  # the requests of the next moments join this run
        self.wanted.clear()
        close_old_connections()  # past their age, or broken
        try:
            self.run()
        except Exception:  # the work stays where it was (durable rows); the next poke retries it
            log.exception("background run %s failed", self.name)
        # Asked again while running: a backlog builds up; let the next run take more of it at once.
        self.wait = min(self.max_delay, 2 * self.wait) if self.wanted.is_set() else self.delay


_debounced: dict[str, _Debounced] = {}
_debounced_lock = threading.Lock()


def debounced_run(
    run: Callable[[], object], *, name: str, delay: float, max_delay: float | None = None
) -> None:
    """Have ``run()`` called soon in this process's one thread ``name``, a run for many calls: the first
    call starts a run ``delay`` seconds later, calls until it starts join it, calls while it runs start
    one more after it. While calls keep coming during every run, the wait before the next run doubles,
    up to ``max_delay`` (default: ``delay``, a fixed wait); a run without calls during it resets it. ``run``
    must catch up on everything its callers left (e.g. drain durable rows).

    The thread is named ``name`` for the OS (``top -H``) and its PostgreSQL session too (``application_
    name`` in ``pg_stat_activity``)."""
    with _debounced_lock:
        debounced = _debounced.get(name)
        if debounced is None:
            debounced = _debounced[name] = _Debounced(run, name, delay, max_delay)
    debounced.poke()


def _forget_threads() -> None:
    global _debounced_lock
    _debounced.clear()  # a forked child has none of its parent's threads
    _debounced_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_threads)


def _os_thread_name(name: str) -> None:
    try:  # Linux: the calling thread's name, 15 bytes at most
        with open("/proc/thread-self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass


@receiver(connection_created, dispatch_uid="revops-background-session-name")
def _session_name(sender, connection, **kwargs) -> None:
    name = threading.current_thread().name
    if name in _debounced and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('application_name', %s, false)", [name])
