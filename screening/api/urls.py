from django.urls import path

from . import admin_api, audit, schedules, subjects
from .activation import ActivationCodeView, RevokeTokensView
from .auth import ObtainTokenView, RevokeTokenView
from .cmax import CmaxResultCorrectView, CmaxResultVoidView, SubjectCmaxResultsView
from .phone import ActivateView, LogoutView, MeView, MyAssessmentsView, SubmitResponseView
from .profiles import MonitoringProfileDetailView, MonitoringProfileListView
from .responses import ResponseAmendmentsView, SubjectResponsesView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/current/", RevokeTokenView.as_view(), name="auth-token-current"),
    # The subject's phone.
    path("subject-auth/activate/", ActivateView.as_view(), name="subject-activate"),
    path("me/", MeView.as_view(), name="me"),
    path("me/assessments/", MyAssessmentsView.as_view(), name="me-assessments"),
    path(
        "me/assessments/<uuid:assessment_id>/response/",
        SubmitResponseView.as_view(),
        name="me-assessment-response",
    ),
    path("me/logout/", LogoutView.as_view(), name="me-logout"),
    # Staff: a subject's phone access and responses.
    path(
        "subjects/<uuid:subject_id>/activation-code/",
        ActivationCodeView.as_view(),
        name="subject-activation-code",
    ),
    path(
        "subjects/<uuid:subject_id>/revoke-tokens/",
        RevokeTokensView.as_view(),
        name="subject-revoke-tokens",
    ),
    path(
        "subjects/<uuid:subject_id>/responses/",
        SubjectResponsesView.as_view(),
        name="subject-responses",
    ),
    # Staff administration
    path("users/", admin_api.UserListCreateView.as_view(), name="users"),
    path("sites/", admin_api.SiteListCreateView.as_view(), name="sites"),
    path("sites/<slug:code>/", admin_api.SiteDetailView.as_view(), name="site-detail"),
    path("sites/<slug:code>/members/", admin_api.SiteMembersView.as_view(), name="site-members"),
    # Schedules
    path("schedules/", schedules.ScheduleListCreateView.as_view(), name="schedules"),
    path("schedules/<uuid:pk>/", schedules.ScheduleDetailView.as_view(), name="schedule-detail"),
    path(
        "schedules/<uuid:pk>/edit-preview/",
        schedules.ScheduleEditPreviewView.as_view(),
        name="schedule-edit-preview",
    ),
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
    path(
        "subjects/<uuid:subject_id>/cmax-results/",
        SubjectCmaxResultsView.as_view(),
        name="subject-cmax-results",
    ),
    path(
        "subjects/<uuid:subject_id>/cmax-results/<uuid:result_id>/void/",
        CmaxResultVoidView.as_view(),
        name="subject-cmax-result-void",
    ),
    path(
        "subjects/<uuid:subject_id>/cmax-results/<uuid:result_id>/correct/",
        CmaxResultCorrectView.as_view(),
        name="subject-cmax-result-correct",
    ),
    path(
        "responses/<uuid:response_id>/amendments/",
        ResponseAmendmentsView.as_view(),
        name="response-amendments",
    ),
    path(
        "subjects/<uuid:subject_id>/audit/", audit.SubjectAuditView.as_view(), name="subject-audit"
    ),
    path("audit/", audit.AuditListView.as_view(), name="audit"),
    path("monitoring-profiles/", MonitoringProfileListView.as_view(), name="monitoring-profiles"),
    path(
        "monitoring-profiles/<uuid:profile_id>/",
        MonitoringProfileDetailView.as_view(),
        name="monitoring-profile",
    ),
]
