"""Celery tasks for CSV imports (found here by Celery's autodiscovery): thin, by id, safe to run twice.

The task is defined beside the service that sends it, so that neither module imports the other."""

from .services import import_csv_task

__all__ = ["import_csv_task"]
