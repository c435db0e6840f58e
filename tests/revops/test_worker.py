"""End to end through Redis: a real ``celery worker`` process runs a task enqueued by the app.

Needs PostgreSQL (the worker and the test share the test database) and Redis. Skipped otherwise,
except in CI (REQUIRE_WORKER=1), where that is a failure.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from revops.celery import app as celery_app
from revops.choices import JobStatus
from revops.models import JobRun

ROOT = Path(__file__).resolve().parents[2]


def _need(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("REQUIRE_WORKER") == "1":
            pytest.fail(f"REQUIRE_WORKER=1 but {why}")
        pytest.skip(why)


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path, settings):
    _need(bool(os.environ.get("REDIS_URL")), "REDIS_URL is not set")
    _need(connection.vendor == "postgresql", "the test database is not PostgreSQL")
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        ),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_MEDIA_ROOT": str(tmp_path),  # uploads are shared through the file system
    }
    settings.MEDIA_ROOT = str(tmp_path)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "revops",
            "worker",
            "-P",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = previous
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output)


def _wait_for(job: JobRun, seconds: float = 60) -> JobRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} still {job.status} after {seconds}s")


def test_csv_import_runs_in_a_real_worker_through_redis(celery_worker_process):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import Account
    from revops.imports.services import import_confirm, import_upload_create
    from revops.imports.tasks import import_csv_task
    from tests.revops.factories import make_member

    user = make_member()
    upload = SimpleUploadedFile(
        "accounts.csv", b"name,domain,employees\nAcme,acme.com,120\nGlobex,globex.com,4500\n", "text/csv"
    )
    job = import_upload_create(actor=user, kind="accounts", upload=upload)
    import_confirm(job=job, actor=user, mapping={}, row_by_row=False)  # enqueues on commit

    job = _wait_for(job)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert sorted(Account.objects.values_list("domain", flat=True)) == ["acme.com", "globex.com"]

    # The same task again (a redelivery): the job is finished, so it changes nothing.
    import_csv_task.apply(args=[job.pk])
    assert Account.objects.count() == 2
