"""Celery tasks of the scoring app. Autodiscovery imports this module; each task lives beside the code
it runs and carries an explicit ``scoring.tasks.*`` name (the names the beat schedule uses)."""

from .rescore import outbox_drain_task, rescore_all_task
from .webhooks import webhook_deliver_task, webhook_deliveries_task
from .whatif import whatif_task
from .workflow import rulesets_publish_due_task

__all__ = [
    "outbox_drain_task",
    "rescore_all_task",
    "rulesets_publish_due_task",
    "webhook_deliver_task",
    "webhook_deliveries_task",
    "whatif_task",
]
