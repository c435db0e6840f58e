"""Celery tasks for CSV imports: thin, by id, safe to run twice."""

from celery import shared_task

from .services import import_job_run


@shared_task(name="revops.imports.import_csv", ignore_result=True)
def import_csv_task(job_id: int) -> None:
    """Run the confirmed import job ``job_id``; returns quietly if it is gone, running or finished."""
    import_job_run(job_id=job_id)
