"""Celery tasks of the scoring app. Autodiscovery imports this module; each task lives beside the code
it runs and carries an explicit ``scoring.tasks.*`` name (the names the beat schedule uses)."""

from scoring.delivery.webhooks import webhook_deliver_task, webhook_deliveries_task
from scoring.learned.jobs import backtest_task, model_train_task
from scoring.pipeline import full_rescore_resume_task, full_rescore_task, rescore_chunk_task
from scoring.rescore import outbox_drain_task
from scoring.whatif import whatif_task
from scoring.workflow import rulesets_publish_due_task

__all__ = [
    "backtest_task",
    "full_rescore_resume_task",
    "full_rescore_task",
    "model_train_task",
    "outbox_drain_task",
    "rescore_chunk_task",
    "rulesets_publish_due_task",
    "webhook_deliver_task",
    "webhook_deliveries_task",
    "whatif_task",
]
