from django.urls import path

from .auth import ObtainTokenView, RevokeTokenView
from .cmax import SubjectCmaxResultsView
from .profiles import MonitoringProfileDetailView, MonitoringProfileListView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/current/", RevokeTokenView.as_view(), name="auth-token-current"),
    path(
        "subjects/<uuid:subject_id>/cmax-results/",
        SubjectCmaxResultsView.as_view(),
        name="subject-cmax-results",
    ),
    path("monitoring-profiles/", MonitoringProfileListView.as_view(), name="monitoring-profiles"),
    path(
        "monitoring-profiles/<uuid:profile_id>/",
        MonitoringProfileDetailView.as_view(),
        name="monitoring-profile",
    ),
]
