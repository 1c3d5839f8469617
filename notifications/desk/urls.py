from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.alert_list, name="desk-alerts"),
    path("login/", views.DeskLoginView.as_view(), name="desk-login"),
    path("logout/", auth_views.LogoutView.as_view(), name="desk-logout"),
    path("alerts/<uuid:alert_id>/", views.alert_detail, name="desk-alert"),
    path("alerts/<uuid:alert_id>/acknowledge/", views.acknowledge, name="desk-alert-acknowledge"),
    path("alerts/<uuid:alert_id>/resolve/", views.resolve, name="desk-alert-resolve"),
    path("subjects/<uuid:subject_id>/", views.subject_detail, name="desk-subject"),
    path(
        "subjects/<uuid:subject_id>/activation-code/",
        views.activation_code,
        name="desk-subject-activation-code",
    ),
]
