from django.urls import path

from .auth import ObtainTokenView, RevokeTokenView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/current/", RevokeTokenView.as_view(), name="auth-token-current"),
]
