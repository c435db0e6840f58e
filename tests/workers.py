"""Real Celery workers for end-to-end tests: ``celery worker`` subprocesses on Redis that share the test's
PostgreSQL database. Needs both; skipped without them, except in CI (``REQUIRE_WORKER=1``), where that
is a failure. ``tests/conftest.py`` loads this module as a plugin, so its fixtures are everywhere:

``celery_workers`` starts any number of named workers (``celery_workers.start("w1")``), each a solo
worker (one task at a time, one process) in its own process group, so a test can SIGKILL one in the
middle of a task; ``celery_worker_process`` is one such worker, already started.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from config.celery import app as celery_app
from revops.choices import JobStatus
from revops.models import JobRun

ROOT = Path(__file__).resolve().parents[1]


def need(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("REQUIRE_WORKER") == "1":
            pytest.fail(f"REQUIRE_WORKER=1 but {why}")
        pytest.skip(why)


class Worker:
    """One ``celery worker`` process; its output goes to a log file (a pipe nobody reads would fill)."""

    def __init__(self, name: str, env: dict[str, str], log: Path):
        self.name = name
        self.hostname = f"{name}@{socket.gethostname()}"
        self.log = log
        self.stopping = False
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo",
                    "-n", self.hostname, "--without-heartbeat", "--without-mingle", "--without-gossip",
                    "-l", "warning",
                ],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes everything it started
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would: no warm shutdown, no acknowledgement."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self, wait: bool = True) -> None:
        if self.process.poll() is None and not self.stopping:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: the current task finishes
            self.stopping = True
        if wait:
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Workers:
    """Starts workers for one test and stops them (printing their output) at its end."""

    def __init__(self, env: dict[str, str], folder: Path):
        self.env, self.folder, self.started = env, folder, []

    def start(self, name: str = "worker", *, wait: bool = True, **env: str) -> Worker:
        worker = Worker(name, {**self.env, **env}, self.folder / f"{name}-{len(self.started)}.log")
        self.started.append(worker)
        if wait:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, *workers: Worker, seconds: float = 60) -> None:
        """Until each answers a broadcast ping: it consumes from the queue from then on."""
        waiting = {w.hostname for w in workers}
        deadline = time.monotonic() + seconds
        while waiting and time.monotonic() < deadline:
            for worker in workers:
                if worker.process.poll() is not None:
                    raise AssertionError(f"worker {worker.name} exited:\n{worker.output()}")
            replies = celery_app.control.ping(destination=sorted(waiting), timeout=0.5)
            waiting -= {host for reply in replies for host in reply}
        if waiting:
            raise AssertionError(f"workers {sorted(waiting)} not ready after {seconds}s")

    def stop_all(self) -> None:
        for worker in self.started:  # all at once: a warm shutdown takes a few seconds
            worker.stop(wait=False)
        for worker in self.started:
            worker.stop()
            print(f"--- {worker.hostname}\n{worker.output()}")


def broker_clear() -> None:
    """Drop queued messages and those a killed worker left unacknowledged (Redis keeps them aside until
    the visibility timeout), so nothing of one test runs during the next."""
    celery_app.control.purge()
    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete("unacked", "unacked_index", "unacked_mutex")


def unacked_count() -> int:
    """Messages taken by a worker and not acknowledged yet (tasks acknowledge when they finish)."""
    with celery_app.connection_for_write() as conn:
        return int(conn.default_channel.client.hlen("unacked"))


@pytest.fixture
def celery_workers(transactional_db, tmp_path, settings):
    """A ``Workers`` starter. The test runs with Celery not eager, so ``delay`` goes through Redis."""
    need(bool(os.environ.get("REDIS_URL")), "REDIS_URL is not set")
    need(connection.vendor == "postgresql", "the test database is not PostgreSQL")
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_MEDIA_ROOT": str(tmp_path),  # uploads are shared through the file system
    }
    settings.MEDIA_ROOT = str(tmp_path)
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    broker_clear()
    workers = Workers(env, tmp_path)
    try:
        yield workers
    finally:
        celery_app.conf.task_always_eager = previous
        workers.stop_all()
        broker_clear()


@pytest.fixture
def celery_worker_process(celery_workers):
    """One worker, started (not waited for: the first task simply waits in the queue)."""
    return celery_workers.start("worker", wait=False)


def wait_for(job: JobRun, seconds: float = 60) -> JobRun:
    """The job once it has succeeded or failed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} still {job.status} after {seconds}s: {job.message}")
