"""Core pages under /settings/: your API tokens, and the periodic tasks' schedule."""

from django.urls import path

from . import views

app_name = "revops"
urlpatterns = [
    path("tokens/", views.ApiTokenListView.as_view(), name="apitoken_list"),
    path("tokens/<int:pk>/revoke/", views.ApiTokenRevokeView.as_view(), name="apitoken_revoke"),
    path("schedule/", views.ScheduleView.as_view(), name="schedule"),
    path("schedule/<int:pk>/", views.PeriodicTaskEditView.as_view(), name="periodictask_edit"),
]
