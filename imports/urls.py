from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.ImportStartView.as_view(), name="import_start"),
    path("<int:pk>/", views.ImportPreviewView.as_view(), name="import_preview"),
    path("<int:pk>/progress/", views.ImportProgressView.as_view(), name="import_progress"),
    path("<int:pk>/status/", views.ImportStatusView.as_view(), name="import_status"),
    path("<int:pk>/result/", views.ImportResultView.as_view(), name="import_result"),
    path("<int:pk>/errors.csv", views.ImportErrorsDownloadView.as_view(), name="import_errors"),
    path("<int:pk>/file/", views.ImportFileDownloadView.as_view(), name="import_file"),
]
