"""Admin for scoring data (more arrives with the scoring issues)."""

from django.contrib import admin

from .models import DemoGroundTruth


@admin.register(DemoGroundTruth)
class DemoGroundTruthAdmin(admin.ModelAdmin):
    list_display = ["account", "as_of", "horizon_days", "propensity", "fit", "in_market"]
    list_filter = ["as_of", "in_market"]
    raw_id_fields = ["account"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
