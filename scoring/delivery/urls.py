"""Pages for notifications (``/notifications/``) and webhook endpoints (``/webhooks/``)."""

from django.urls import path

from scoring.delivery import views

app_name = "webhooks"

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view(), name="notification_list"),
    path("notifications/read-all/", views.NotificationReadAllView.as_view(), name="notification_read_all"),
    path("notifications/<int:pk>/read/", views.NotificationReadView.as_view(), name="notification_read"),
    path("webhooks/", views.WebhookEndpointListView.as_view(), name="endpoint_list"),
    path("webhooks/add/", views.WebhookEndpointEditView.as_view(), name="endpoint_create"),
    path("webhooks/<int:pk>/", views.WebhookEndpointDetailView.as_view(), name="endpoint_detail"),
    path("webhooks/<int:pk>/edit/", views.WebhookEndpointEditView.as_view(), name="endpoint_update"),
    path("webhooks/<int:pk>/delete/", views.WebhookEndpointDeleteView.as_view(), name="endpoint_delete"),
    path("webhooks/<int:pk>/test/", views.WebhookEndpointTestView.as_view(), name="endpoint_test"),
    path(
        "webhooks/<int:pk>/deliveries/",
        views.WebhookDeliveriesFragmentView.as_view(),
        name="endpoint_deliveries",
    ),
    path(
        "webhooks/deliveries/<int:pk>/retry/", views.WebhookDeliveryRetryView.as_view(), name="delivery_retry"
    ),
]
