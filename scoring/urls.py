from django.urls import include, path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("rulesets/", views.RulesetListView.as_view(), name="ruleset_list"),
    path("rulesets/new/", views.RulesetCreateView.as_view(), name="ruleset_create"),
    path("rulesets/rule-row/", views.RuleRowView.as_view(), name="rule_row"),
    path("rulesets/<int:pk>/", views.RulesetDetailView.as_view(), name="ruleset_detail"),
    path("rulesets/<int:pk>/edit/", views.RulesetEditView.as_view(), name="ruleset_edit"),
    path("rulesets/<int:pk>/comments/", views.RulesetCommentView.as_view(), name="ruleset_comment"),
    path("rulesets/<int:pk>/whatif/", views.WhatIfView.as_view(), name="ruleset_whatif"),
    path("rulesets/<int:pk>/<slug:action>/", views.RulesetActionView.as_view(), name="ruleset_action"),
    path("whatif/", views.WhatIfIndexView.as_view(), name="whatif_index"),
    path("whatif/<int:pk>/status/", views.WhatIfStatusView.as_view(), name="whatif_status"),
    path("funnel/", views.FunnelView.as_view(), name="funnel"),
    path("outbox/", views.OutboxView.as_view(), name="outbox"),
    path("outbox/replay/", views.OutboxReplayView.as_view(), name="outbox_replay"),
    path("rescore/", views.RescoreStartView.as_view(), name="rescore_start"),
    path("rescore/<int:pk>/", views.RescoreProgressView.as_view(), name="rescore_progress"),
    path("rescore/<int:pk>/status/", views.RescoreStatusView.as_view(), name="rescore_status"),
    path("contacts/<int:pk>/<slug:action>/", views.ContactLifecycleView.as_view(), name="contact_lifecycle"),
    path("", include("scoring.learned.urls")),  # models, in-market accounts, an account's learned scores
]
