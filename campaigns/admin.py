"""Admin for channels and campaigns."""

from django.contrib import admin

from accounts.models import Campaign, Channel
from revops.admin import AuditedModelAdmin


@admin.register(Channel)
class ChannelAdmin(AuditedModelAdmin):
    list_display = ["name", "slug", "sort_order"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Campaign)
class CampaignAdmin(AuditedModelAdmin):
    list_display = ["name", "channel", "goal", "start_date", "end_date", "cost", "owner_team"]
    list_filter = ["channel", "goal", "owner_team"]
    search_fields = ["name"]
    date_hierarchy = "start_date"
