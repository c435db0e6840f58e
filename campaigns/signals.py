"""After every full rescore, segments refresh their membership and campaigns are measured again (both
read scores: stages, bands, MQLs). Queued after commit; in the embedded mode Celery runs them inline."""

from django.db import transaction
from django.dispatch import receiver

from scoring.signals import rescore_finished

from .tasks import campaigns_measure_task, segments_refresh_task


@receiver(rescore_finished, dispatch_uid="campaigns-rescore-finished")
def _rescore_finished(sender, **kwargs):
    # robust: with the broker down the rescore still finishes (the failure is logged; the next rescore or
    # "Refresh now" catches up), rather than the error surfacing from the rescore's commit.
    transaction.on_commit(
        lambda: segments_refresh_task.apply_async(link=campaigns_measure_task.si()), robust=True
    )
