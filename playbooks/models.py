"""Stage playbooks: for a buying stage (and, if wanted, a segment), the plays that start when an account
enters it — who acts, on which channel, by when, and what stops them. A playbook is a versioned document
(one series per stage and segment, one published version each), owned by marketing and sales together.

What happens is stored: a ``PlayRun`` per play and stage entry (unique: exactly once), its ``PlayTask``s
for the owning person or team, and a ``PlayAction`` log of every start, suppression, stop, resumption and
completion. ``PlaybookCursor`` says which stage transitions have been acted on."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from revops.choices import TeamKind
from revops.models import BaseModel
from revops.versioned import DocumentApproval, DocumentComment, DocumentHistory, VersionedDocument
from scoring.choices import BuyingStage

from .choices import PlayKind, RunStatus, StopCondition, TaskStatus


def playbook_scope_key(*, stage: str, segment_id: int | None) -> str:
    return f"{stage}:segment={segment_id}" if segment_id else stage


class Playbook(VersionedDocument):
    """One version of what to do when an account enters a buying stage."""

    etag_kind = "playbook"

    number = models.PositiveIntegerField(help_text="Version number within the playbook's stage and segment.")
    stage = models.CharField(max_length=16, choices=BuyingStage.choices)
    segment = models.ForeignKey(
        "campaigns.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="playbooks",
        help_text="Only for this segment's accounts (they follow it instead of the stage's general one).",
    )  # fmt: skip
    scope_key = models.CharField(max_length=60, editable=False, db_index=True)

    class Meta:
        ordering = ["stage", "scope_key", "-number"]
        permissions = [
            ("approve_playbook", "Can approve a proposed playbook"),
            ("publish_playbook", "Can publish a playbook"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["scope_key", "number"], name="playbook_number_per_scope"),
            models.UniqueConstraint(
                fields=["scope_key"], condition=Q(status="published"), name="one_published_playbook_per_scope"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope_label} v{self.number}"

    def save(self, *args, **kwargs):
        self.scope_key = playbook_scope_key(stage=self.stage, segment_id=self.segment_id)
        super().save(*args, **kwargs)

    @property
    def scope_label(self) -> str:
        label = BuyingStage(self.stage).label
        return f"{label} · {self.segment}" if self.segment_id else label


class Play(BaseModel):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="plays")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=PlayKind.choices, default=PlayKind.TASK)
    team_kind = models.CharField(max_length=32, choices=TeamKind.choices, help_text="The team that acts.")
    channel = models.ForeignKey(
        "accounts.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days from the stage entry to the due date."
    )
    touches = models.PositiveSmallIntegerField(default=1, help_text="Touches of a cadence (1 to 21).")
    stop_on = models.CharField(max_length=16, choices=StopCondition.choices, default=StopCondition.REGRESSION)
    include_customers = models.BooleanField(default=False, help_text="Also for customers (won a deal).")
    include_open_deals = models.BooleanField(default=False, help_text="Also for accounts with an open deal.")
    notify_webhook = models.BooleanField(default=False, help_text="Send play.started to the team's webhooks.")
    instructions = models.TextField(blank=True)

    class Meta:
        ordering = ["playbook", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(touches__gte=1) & Q(touches__lte=21), name="play_touches_1_21"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PlayRun(models.Model):
    """A play started for an account by one stage entry (a ``BuyingStageTransition``): exactly once."""

    play = models.ForeignKey(Play, on_delete=models.PROTECT, related_name="runs")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="play_runs")
    transition = models.ForeignKey(
        "scoring.BuyingStageTransition", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    stage = models.CharField(max_length=16, choices=BuyingStage.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.OPEN)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was suppressed or stopped.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "revops.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["play", "transition"], name="play_run_once_per_stage_entry")
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="play_run_account_idx"),
            models.Index(fields=["play", "status"], name="play_run_play_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.play} for account {self.account_id} ({self.status})"


class PlayTask(models.Model):
    """Something a person or team does for a run: the play's one task, or a cadence's touch."""

    run = models.ForeignKey(PlayRun, on_delete=models.CASCADE, related_name="tasks")
    sequence = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=300)
    due_on = models.DateField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="play_tasks"
    )
    team = models.ForeignKey(
        "revops.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["due_on", "run_id", "sequence"]
        indexes = [
            models.Index(fields=["assignee", "status", "due_on"], name="play_task_assignee_idx"),
            models.Index(fields=["team", "status", "due_on"], name="play_task_team_idx"),
            models.Index(fields=["run", "status"], name="play_task_run_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class PlayAction(models.Model):
    """The log: a play started, suppressed (and why), stopped, resumed, a task done, a webhook queued."""

    run = models.ForeignKey(PlayRun, on_delete=models.CASCADE, related_name="actions")
    at = models.DateTimeField()
    action = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class PlaybookCursor(models.Model):
    """The last stage transition acted on (one row): the trigger runs each transition once."""

    name = models.CharField(max_length=50, unique=True)
    last_transition_id = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_transition_id}"


class PlaybookApproval(DocumentApproval):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="approvals")

    class Meta:
        ordering = ["created"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "user"], name="playbook_one_approval_per_user")
        ]


class PlaybookComment(DocumentComment):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="comments")

    class Meta:
        ordering = ["created"]


class PlaybookHistory(DocumentHistory):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="history")

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "playbook history"
