from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("", views.CampaignListView.as_view(), name="campaign_list"),
    path("add/", views.CampaignEditView.as_view(), name="campaign_create"),
    path("leaderboard/", views.LeaderboardView.as_view(), name="leaderboard"),
    path("<int:pk>/", views.CampaignDetailView.as_view(), name="campaign_detail"),
    path("<int:pk>/edit/", views.CampaignEditView.as_view(), name="campaign_update"),
    path("<int:pk>/launch/", views.CampaignLaunchView.as_view(), name="campaign_launch"),
    path("<int:pk>/measure/", views.CampaignMeasureView.as_view(), name="campaign_measure"),
    path("segments/", views.SegmentListView.as_view(), name="segment_list"),
    path("segments/add/", views.SegmentEditView.as_view(), name="segment_create"),
    path("segments/preview/", views.SegmentPreviewView.as_view(), name="segment_preview"),
    path("segments/<int:pk>/", views.SegmentDetailView.as_view(), name="segment_detail"),
    path("segments/<int:pk>/edit/", views.SegmentEditView.as_view(), name="segment_update"),
    path("segments/<int:pk>/refresh/", views.SegmentRefreshView.as_view(), name="segment_refresh"),
    path("segments/<int:pk>/members/", views.SegmentMembersView.as_view(), name="segment_members"),
    path("segments/<int:pk>/delete/", views.SegmentDeleteView.as_view(), name="segment_delete"),
    path("segments/<int:pk>/export/", views.SegmentExportView.as_view(), name="segment_export"),
    path("segments/<int:pk>/whatif/", views.SegmentWhatIfView.as_view(), name="segment_whatif"),
]
