"""Playbooks in admin, to look at: playbooks are edited and signed off on their pages and the API; runs,
tasks and their log are written by the trigger and by people finishing tasks. Admin reads them all."""

from django.contrib import admin

from revops.admin import (
    DocumentApprovalInline,
    DocumentCommentInline,
    DocumentHistoryInline,
    ReadOnlyAdmin,
    ReadOnlyInline,
)

from .models import (
    Play,
    PlayAction,
    Playbook,
    PlaybookApproval,
    PlaybookComment,
    PlaybookHistory,
    PlayRun,
    PlayTask,
)


class PlayInline(ReadOnlyInline):
    model = Play
    fields = ["position", "name", "kind", "team_kind", "channel", "due_days", "touches", "stop_on"]
    readonly_fields = fields


class ApprovalInline(DocumentApprovalInline):
    model = PlaybookApproval


class CommentInline(DocumentCommentInline):
    model = PlaybookComment


class HistoryInline(DocumentHistoryInline):
    model = PlaybookHistory


@admin.register(Playbook)
class PlaybookAdmin(ReadOnlyAdmin):
    list_display = ["scope_key", "number", "name", "status", "published_at"]
    list_filter = ["status", "stage"]
    search_fields = ["name"]
    inlines = [PlayInline, ApprovalInline, CommentInline, HistoryInline]


class TaskInline(ReadOnlyInline):
    model = PlayTask
    fields = ["sequence", "title", "due_on", "assignee", "team", "status", "done_at"]
    readonly_fields = fields


class ActionInline(ReadOnlyInline):
    model = PlayAction
    fields = ["at", "action", "detail", "actor"]
    readonly_fields = fields


@admin.register(PlayRun)
class PlayRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "account", "play", "stage", "status", "reason"]
    list_filter = ["status", "stage"]
    list_select_related = ["account", "play"]
    raw_id_fields = ["account"]
    inlines = [TaskInline, ActionInline]
