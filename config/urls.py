"""Root URL configuration: the web UI, login at /login/, admin, and the REST API under /api/."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from . import views

# The API docs pages are third-party single-page apps (drf-spectacular's sidecar files, served from
# here): Swagger UI and ReDoc add <style> elements, and ReDoc searches in a worker started from a blob.
# Their scripts still come from this site only (the split view serves Swagger's setup as a file).
_DOCS_CSP = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("plans/", include("plans.urls")),
    path("playbooks/", include("playbooks.urls")),
    path("desk/", include("desk.urls")),
    path("import/", include("imports.urls")),
    path("settings/", include("revops.urls")),
    path("scoring/", include("scoring.urls")),
    # /notifications/ and /webhooks/
    path("", include("scoring.delivery.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", _DOCS_CSP(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", _DOCS_CSP(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
]

# Errors outside DRF's views (an unknown /api/ URL, a failure in a middleware) answer JSON under /api/
# and the UI's HTML pages elsewhere.
handler400 = "revops.api.exceptions.bad_request"
handler403 = "revops.api.exceptions.permission_denied"
handler404 = "revops.api.exceptions.page_not_found"
handler500 = "revops.api.exceptions.server_error"
