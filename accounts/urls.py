from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="account_list"),
    path("add/", views.AccountEditView.as_view(), name="account_create"),
    path("search/", views.AccountSearchView.as_view(), name="account_search"),
    path("<int:pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("<int:pk>/edit/", views.AccountEditView.as_view(), name="account_update"),
    path("<int:pk>/timeline/", views.AccountTimelineView.as_view(), name="account_timeline"),
    path("contacts/", views.ContactListView.as_view(), name="contact_list"),
    path("contacts/add/", views.ContactEditView.as_view(), name="contact_create"),
    path("contacts/<int:pk>/", views.ContactDetailView.as_view(), name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.ContactEditView.as_view(), name="contact_update"),
    path("personas/", views.PersonaListView.as_view(), name="persona_list"),
    path("personas/<int:pk>/", views.PersonaDetailView.as_view(), name="persona_detail"),
    path("opportunities/", views.OpportunityListView.as_view(), name="opportunity_list"),
    path("opportunities/<int:pk>/", views.OpportunityDetailView.as_view(), name="opportunity_detail"),
]
