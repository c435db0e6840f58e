"""Writes of the desk: marking my queue seen."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from revops.audit import change_record_create
from revops.choices import ChangeAction

from .models import QueueSeen


@transaction.atomic
def queue_mark_seen(*, user, at: datetime.datetime | None = None) -> QueueSeen:
    """From now on, "newly qualified" in the user's queue means qualified after ``at`` (default now)."""
    at = at or timezone.now()
    seen, _ = QueueSeen.objects.update_or_create(user=user, defaults={"seen_at": at})
    change_record_create(
        actor=user, action=ChangeAction.UPDATE, instance=seen, after={"seen_at": at.isoformat()}
    )
    return seen
