"""What makes a contact or an account need rescoring: new events, or an edit of its fields.

Imports of accounts, contacts and opportunities (bulk writes, no ``post_save``) say whom they wrote.
Each writes an outbox row in the same transaction as the change; a task drains the outbox after
commit (``scoring.rescore.outbox_drain``), so a rolled-back change never rescores anything.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from accounts.models import Account, Contact, Technology
from accounts.signals import events_ingested, records_imported
from revops.safecache import cache_delete
from scoring.learned.words import TECHNOLOGY_NAMES_KEY
from scoring.metrics import figures_invalidate
from scoring.rescore import outbox_enqueue

# Sent when a full rescore (rules and learned scores of every account) has finished, with ``as_of``:
# apps above refresh what they derive from scores (segment membership, campaign measurement).
rescore_finished = Signal()


@receiver(events_ingested, dispatch_uid="scoring-events-ingested")
def _events_ingested(sender, *, contact_ids, account_ids, **kwargs):
    outbox_enqueue(contact_ids=contact_ids, account_ids=account_ids)


@receiver(records_imported, dispatch_uid="scoring-records-imported")
def _records_imported(sender, *, contact_ids, account_ids, **kwargs):
    outbox_enqueue(contact_ids=contact_ids, account_ids=account_ids)


@receiver(post_save, sender=Contact, dispatch_uid="scoring-contact-saved")
def _contact_saved(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or (update_fields is not None and set(update_fields) <= {"lifecycle_stage", "updated"}):
        return  # fixtures, or a stage move (which the scores do not depend on)
    outbox_enqueue(contact_ids=[instance.pk])


@receiver(post_save, sender=Account, dispatch_uid="scoring-account-saved")
def _account_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    outbox_enqueue(account_ids=[instance.pk])


@receiver(post_save, sender=Technology, dispatch_uid="scoring-technology-saved")
@receiver(post_delete, sender=Technology, dispatch_uid="scoring-technology-deleted")
def _technology_changed(sender, **kwargs):
    cache_delete(TECHNOLOGY_NAMES_KEY)  # explanations name technologies as the catalogue spells them


@receiver(rescore_finished, dispatch_uid="scoring-metrics-figures")
def _figures_rescored(sender, **kwargs):
    figures_invalidate()  # the figures pages keep a while count the scores just rewritten
