from django.urls import path

from . import admin_api, schedules, subjects
from .auth import ObtainTokenView, RevokeTokenView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/current/", RevokeTokenView.as_view(), name="auth-token-current"),
    # Staff administration
    path("users/", admin_api.UserListCreateView.as_view(), name="users"),
    path("sites/", admin_api.SiteListCreateView.as_view(), name="sites"),
    path("sites/<slug:code>/", admin_api.SiteDetailView.as_view(), name="site-detail"),
    path("sites/<slug:code>/members/", admin_api.SiteMembersView.as_view(), name="site-members"),
    # Schedules
    path("schedules/", schedules.ScheduleListCreateView.as_view(), name="schedules"),
    path("schedules/<uuid:pk>/", schedules.ScheduleDetailView.as_view(), name="schedule-detail"),
    path(
        "schedules/<uuid:pk>/preview/",
        schedules.SchedulePreviewView.as_view(),
        name="schedule-preview",
    ),
    # Subjects (staff)
    path("subjects/", subjects.SubjectListCreateView.as_view(), name="subjects"),
    path("subjects/<uuid:pk>/", subjects.SubjectDetailView.as_view(), name="subject-detail"),
    path(
        "subjects/<uuid:pk>/withdraw/",
        subjects.SubjectWithdrawView.as_view(),
        name="subject-withdraw",
    ),
    path(
        "subjects/<uuid:pk>/regimen-changes/",
        subjects.SubjectRegimenChangesView.as_view(),
        name="subject-regimen-changes",
    ),
    path(
        "subjects/<uuid:pk>/assessments/",
        subjects.SubjectAssessmentsView.as_view(),
        name="subject-assessments",
    ),
]
