"""The project's URLs plus the plain-DRF baselines the benchmark compares the fast paths with."""

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

from .baseline import BaselineEventBatchView

urlpatterns = [
    path("bench/baseline/events/batch/", BaselineEventBatchView.as_view(), name="bench-baseline-events"),
    *project_urlpatterns,
]
