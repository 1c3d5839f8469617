from django.urls import path

from .activation import ActivationCodeView, RevokeTokensView
from .auth import ObtainTokenView, RevokeTokenView
from .phone import ActivateView, LogoutView, MeView, MyAssessmentsView, SubmitResponseView
from .responses import SubjectResponsesView

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
]
