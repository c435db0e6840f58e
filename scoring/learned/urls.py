"""URLs of the learned-score pages, included into the ``scoring`` namespace by ``scoring/urls.py``."""

from django.urls import path

from scoring.learned import views

urlpatterns = [
    path("models/", views.ScoringModelListView.as_view(), name="model_list"),
    path("models/train/", views.ModelTrainView.as_view(), name="model_train"),
    path("models/backtest/", views.BacktestStartView.as_view(), name="model_backtest"),
    path("models/jobs/<int:pk>/", views.ModelJobView.as_view(), name="model_job"),
    path("models/jobs/<int:pk>/status/", views.ModelJobStatusView.as_view(), name="model_job_status"),
    path("models/<int:pk>/", views.ScoringModelDetailView.as_view(), name="model_detail"),
    path("models/<int:pk>/compare/", views.ScoringModelCompareView.as_view(), name="model_compare"),
    path("models/<int:pk>/promote/", views.ModelPromoteView.as_view(), name="model_promote"),
    path("models/<int:pk>/columns/", views.ModelColumnDecisionView.as_view(), name="model_column_decision"),
    path("models/<int:pk>/rollback/", views.ModelRollbackView.as_view(), name="model_rollback"),
    path("in-market/", views.InMarketListView.as_view(), name="inmarket_list"),
    path("in-market/rescore/", views.AccountsRescoreView.as_view(), name="accounts_rescore"),
    path("accounts/<int:pk>/scores/", views.AccountScoresView.as_view(), name="account_scores"),
]
