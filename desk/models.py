"""The desk's own state: when a person last cleared their queue ("new since I last looked")."""

from django.conf import settings
from django.db import models

from revops.models import BaseModel


class QueueSeen(BaseModel):
    """When a person last marked their queue seen: newly qualified accounts are those since then."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_seen")
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = "queue seen"
        verbose_name_plural = "queues seen"

    def __str__(self) -> str:
        return f"{self.user_id} saw the queue at {self.seen_at:%Y-%m-%d %H:%M}"
