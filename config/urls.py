"""URL root: probes, the admin, the OpenAPI schema and docs, the v1 API of each app, the
subject's pages (``/s/``) and the clinician desk (``/desk/``)."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from .health import HealthzView, ReadyzView


class NotFoundView(APIView):
    """Answer every method on an unknown URL with the contract's 404 (also when DEBUG is on)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise NotFound("No such resource.")

    get = post = put = patch = delete = head = options = _not_found


api_v1: list[URLPattern | URLResolver] = [
    path("", include("questionnaires.api.urls")),
    path("", include("screening.api.urls")),
    path("", include("notifications.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # The subject's phone pages and the clinician desk (server-rendered HTML).
    path("", RedirectView.as_view(pattern_name="subject-home"), name="root"),
    path("s/", include("screening.pages.urls")),
    path("desk/", include("notifications.desk.urls")),
    re_path(r"^(?!admin/|static/).*$", NotFoundView.as_view()),
]

handler400 = "config.api.json_bad_request"
handler403 = "config.api.json_permission_denied"
handler404 = "config.api.json_not_found"
handler500 = "config.api.json_server_error"
