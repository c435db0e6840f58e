"""Versioned documents: the rows every definition that decides is kept in (a ruleset, a qualification
policy; next a pipeline plan or a playbook), and the approvals, comments and history around them.

A document model subclasses ``VersionedDocument`` and names its ``etag_kind``; three small models subclass
``DocumentApproval``, ``DocumentComment`` and ``DocumentHistory`` with a foreign key to it whose
``related_name`` is ``"approvals"``, ``"comments"`` and ``"history"``: the workflow (``revops.documents``)
reaches them by these names. Only the workflow changes a document's status; at most one version is
published (each model adds the partial unique constraint on ``status``, with its own name).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from .choices import VersionStatus
from .models import BaseModel
from .querysets import RestrictedQuerySet

# A version's fields that change through the workflow, never by editing (with its id and timestamps).
VERSION_FIELDS = [
    "id",
    "number",
    "status",
    "revision",
    "based_on",
    "created_by",
    "proposed_by",
    "proposed_at",
    "publish_at",
    "published_by",
    "published_at",
    "created",
    "updated",
]


class VersionedQuerySet(RestrictedQuerySet):
    def published(self) -> VersionedQuerySet:
        """The published version (at most one row, by constraint)."""
        return self.filter(status=VersionStatus.PUBLISHED)


class VersionedDocument(BaseModel):
    """Abstract: one numbered version of a document, its status and who moved it through the workflow."""

    number = models.PositiveIntegerField(unique=True, help_text="Version number, 1, 2, 3 …")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    based_on = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="derived"
    )
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    revision = models.PositiveIntegerField(
        default=1, help_text="Bumped by every edit; the ETag that guards concurrent editing."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    publish_at = models.DateTimeField(null=True, blank=True, help_text="Scheduled publication.")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True, help_text="Last time it went live.")

    objects = VersionedQuerySet.as_manager()

    # The ETag's kind: ``"<kind>-<pk>-r<revision>"`` (lower-case letters; one per document model).
    etag_kind: ClassVar[str] = ""

    class Meta:
        abstract = True

    @property
    def etag(self) -> str:
        return f'"{self.etag_kind}-{self.pk}-r{self.revision}"'

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class DocumentApproval(BaseModel):
    """Abstract: a lead's approval of a proposed version, on behalf of their team (one kind of team)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    team_kind = models.CharField(max_length=32)

    class Meta:
        abstract = True


class DocumentComment(BaseModel):
    """Abstract: a comment on a version (any status), and the reason of a rejection."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField()

    class Meta:
        abstract = True


class DocumentHistory(models.Model):
    """Abstract: what happened to a version, in order: created, edited, proposed, approved, published …"""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
