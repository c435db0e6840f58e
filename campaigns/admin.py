"""Admin for channels, campaigns (with their cost lines and keys), segments and what campaigns recorded
(targets, audiences, measurements, the demo's ground truth: read-only, written by the services)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.models import Campaign, CampaignCost, CampaignKey, Channel
from revops.admin import AuditedModelAdmin, ReadOnlyAdmin

from .models import (
    CampaignAudience,
    CampaignGroundTruth,
    CampaignMeasurement,
    CampaignTarget,
    Segment,
    SegmentMembership,
)
from .segments import criteria_clean, refuse_cycles, segment_refresh


@admin.register(Channel)
class ChannelAdmin(AuditedModelAdmin):
    list_display = ["name", "slug", "sort_order"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


class CampaignCostInline(admin.TabularInline):
    model = CampaignCost
    extra = 0


class CampaignKeyInline(admin.TabularInline):
    model = CampaignKey
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(AuditedModelAdmin):
    list_display = ["name", "channel", "goal", "start_date", "end_date", "cost", "budget", "owner_team"]
    list_filter = ["channel", "goal", "owner_team"]
    search_fields = ["name"]
    date_hierarchy = "start_date"
    inlines = [CampaignCostInline, CampaignKeyInline]


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "criteria", "owner_team"]

    def clean_criteria(self):
        try:
            criteria = criteria_clean(self.cleaned_data.get("criteria") or {})
            refuse_cycles(self.instance if self.instance.pk else None, criteria)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return criteria


@admin.register(Segment)
class SegmentAdmin(AuditedModelAdmin):
    """Segments; a change of criteria raises the version and refreshes the membership at once."""

    form = SegmentAdminForm
    list_display = ["name", "kind", "member_count", "version", "refreshed_at", "owner_team"]
    list_filter = ["kind", "owner_team"]
    search_fields = ["name", "description"]
    readonly_fields = ["version", "member_count", "refreshed_at"]

    def save_model(self, request, obj, form, change):
        if change and ("criteria" in form.changed_data or "kind" in form.changed_data):
            obj.version += 1
        super().save_model(request, obj, form, change)
        segment_refresh(segment=obj)


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(ReadOnlyAdmin):
    list_display = ["segment", "account", "joined_at", "left_at", "version"]
    list_filter = ["segment"]
    list_select_related = ["segment", "account"]
    raw_id_fields = ["account"]


@admin.register(CampaignTarget)
class CampaignTargetAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "segment", "holdout_share", "launched_at", "launched_by", "seed"]
    list_select_related = ["campaign", "segment", "launched_by"]


@admin.register(CampaignAudience)
class CampaignAudienceAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "account", "group", "assigned_at"]
    list_filter = ["group", "campaign"]
    list_select_related = ["campaign", "account"]


@admin.register(CampaignMeasurement)
class CampaignMeasurementAdmin(ReadOnlyAdmin):
    list_display = [
        "campaign", "measured_at", "control", "treated", "controls", "engagement_lift", "engagement_lift_low",
        "engagement_lift_high", "incremental_opportunities", "incremental_pipeline", "mqls",
    ]  # fmt: skip
    list_select_related = ["campaign"]


@admin.register(CampaignGroundTruth)
class CampaignGroundTruthAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "engagement_lift", "cycle_multiplier"]
    list_select_related = ["campaign"]
