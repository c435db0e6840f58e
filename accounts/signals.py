"""Signals other apps listen to, so that accounts does not depend on them."""

from django.dispatch import Signal

# Sent inside the ingesting transaction when a batch wrote new events:
# ``contact_ids`` and ``account_ids`` (sets) are who those events touched.
events_ingested = Signal()

# Sent inside an import's transaction when it created or changed accounts, contacts or opportunities:
# ``contact_ids`` and ``account_ids`` (sets) are whose scores may have changed.
records_imported = Signal()
