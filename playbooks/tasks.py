"""Celery task: start and stop plays for the stage transitions not acted on yet."""

from celery import shared_task

from .triggers import plays_trigger


@shared_task(name="playbooks.tasks.plays_trigger_task")
def plays_trigger_task() -> dict:
    return plays_trigger()
