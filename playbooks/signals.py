"""After every full rescore, the plays of the stages accounts entered start (queued after commit; inline
in the embedded mode). A beat task every few minutes catches transitions made any other way."""

from django.db import transaction
from django.dispatch import receiver

from scoring.signals import rescore_finished

from .tasks import plays_trigger_task


@receiver(rescore_finished, dispatch_uid="playbooks-rescore-finished")
def _rescore_finished(sender, **kwargs):
    # robust: a stopped broker does not fail the rescore; the beat task catches up.
    transaction.on_commit(lambda: plays_trigger_task.delay(), robust=True)
