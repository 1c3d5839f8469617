from django.urls import path

from .alerts import AcknowledgeView, AlertDetailView, AlertListView, ResolveView
from .channels import urlpatterns as channel_urls

urlpatterns = [
    path("alerts/", AlertListView.as_view(), name="alerts"),
    path("alerts/<uuid:alert_id>/", AlertDetailView.as_view(), name="alert"),
    path(
        "alerts/<uuid:alert_id>/acknowledge/", AcknowledgeView.as_view(), name="alert-acknowledge"
    ),
    path("alerts/<uuid:alert_id>/resolve/", ResolveView.as_view(), name="alert-resolve"),
    *channel_urls,
]
