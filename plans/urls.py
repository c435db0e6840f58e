from django.urls import path

from . import views

app_name = "plans"

urlpatterns = [
    path("", views.PlanListView.as_view(), name="plan_list"),
    path("add/", views.PlanCreateView.as_view(), name="plan_create"),
    path("metrics/", views.SalesMetricsView.as_view(), name="sales_metrics"),
    path("<int:pk>/", views.PlanDetailView.as_view(), name="plan_detail"),
    path("<int:pk>/edit/", views.PlanEditView.as_view(), name="plan_edit"),
    path("<int:pk>/<slug:action>/", views.PlanActionView.as_view(), name="plan_action"),
]
