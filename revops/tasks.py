"""Celery tasks of the core app (autodiscovery looks here: sub-packages' tasks are listed here)."""

from .imports.tasks import import_csv_task

__all__ = ["import_csv_task"]
