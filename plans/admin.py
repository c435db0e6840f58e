"""Revenue plans in admin, to look at: plans are drafted and signed off on their pages and the API (the
editor needs the history and the channel split), so admin shows versions, channels, approvals, comments
and history read-only."""

from django.contrib import admin

from revops.admin import (
    DocumentApprovalInline,
    DocumentCommentInline,
    DocumentHistoryInline,
    ReadOnlyAdmin,
    ReadOnlyInline,
)

from .models import PlanAllocation, PlanApproval, PlanComment, PlanHistory, RevenuePlan


class AllocationInline(ReadOnlyInline):
    model = PlanAllocation
    fields = ["channel", "share", "capacity", "note"]
    readonly_fields = fields


class ApprovalInline(DocumentApprovalInline):
    model = PlanApproval


class CommentInline(DocumentCommentInline):
    model = PlanComment


class HistoryInline(DocumentHistoryInline):
    model = PlanHistory


@admin.register(RevenuePlan)
class RevenuePlanAdmin(ReadOnlyAdmin):
    list_display = ["scope_key", "number", "name", "status", "revenue_target", "win_rate", "published_at"]
    list_filter = ["status", "period_kind"]
    search_fields = ["name", "scope_key"]
    inlines = [AllocationInline, ApprovalInline, CommentInline, HistoryInline]
