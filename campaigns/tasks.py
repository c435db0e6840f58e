"""Celery tasks: segments refreshed and campaigns measured (after each rescore, and on demand)."""

from celery import shared_task

from .measurement import campaigns_measure_all
from .segments import segments_refresh_all


@shared_task(name="campaigns.tasks.segments_refresh_task")
def segments_refresh_task() -> dict:
    return {str(pk): counts for pk, counts in segments_refresh_all().items()}


@shared_task(name="campaigns.tasks.campaigns_measure_task")
def campaigns_measure_task() -> dict:
    return campaigns_measure_all()
