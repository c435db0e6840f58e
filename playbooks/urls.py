from django.urls import path

from . import views

app_name = "playbooks"

urlpatterns = [
    path("", views.PlaybookListView.as_view(), name="playbook_list"),
    path("add/", views.PlaybookCreateView.as_view(), name="playbook_create"),
    path("tasks/", views.TaskListView.as_view(), name="task_list"),
    path("tasks/<int:pk>/finish/", views.TaskFinishView.as_view(), name="task_finish"),
    path("plays/<int:pk>/audience.csv", views.PlayAudienceView.as_view(), name="play_audience"),
    path("<int:pk>/", views.PlaybookDetailView.as_view(), name="playbook_detail"),
    path("<int:pk>/edit/", views.PlaybookEditView.as_view(), name="playbook_edit"),
    path("<int:pk>/<slug:action>/", views.PlaybookActionView.as_view(), name="playbook_action"),
]
