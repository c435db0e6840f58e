from django.urls import path

from . import views

app_name = "desk"

urlpatterns = [
    path("accounts/", views.MyAccountsView.as_view(), name="my_accounts"),
    path("queue/", views.MyQueueView.as_view(), name="my_queue"),
    path("queue/seen/", views.QueueSeenView.as_view(), name="queue_seen"),
]
