"""End to end through Redis: a real ``celery worker`` process runs a task enqueued by the app.

Needs PostgreSQL (the worker and the test share the test database) and Redis. Skipped otherwise,
except in CI (REQUIRE_WORKER=1), where that is a failure (``tests.workers``).
"""

import pytest

from revops.choices import JobStatus
from tests.workers import wait_for

pytestmark = pytest.mark.worker


def test_csv_import_runs_in_a_real_worker_through_redis(celery_worker_process):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import Account
    from imports.services import import_confirm, import_upload_create
    from imports.tasks import import_csv_task
    from tests.revops.factories import make_member

    user = make_member()
    upload = SimpleUploadedFile(
        "accounts.csv", b"name,domain,employees\nAcme,acme.com,120\nGlobex,globex.com,4500\n", "text/csv"
    )
    job = import_upload_create(actor=user, kind="accounts", upload=upload)
    import_confirm(job=job, actor=user, mapping={}, row_by_row=False)  # enqueues on commit

    job = wait_for(job)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert sorted(Account.objects.values_list("domain", flat=True)) == ["acme.com", "globex.com"]

    # The same task again (a redelivery): the job is finished, so it changes nothing.
    import_csv_task.apply(args=[job.pk])
    assert Account.objects.count() == 2
