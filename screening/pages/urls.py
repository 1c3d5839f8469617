from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="subject-home"),
    path("activate/", views.activate_page, name="subject-activate-page"),
    path("activate/<str:code>/", views.activate_page, name="subject-activate-code"),
    path("q/<uuid:assessment_id>/", views.questionnaire, name="subject-questionnaire"),
    path("done/<uuid:assessment_id>/", views.done, name="subject-done"),
    path("logout/", views.logout, name="subject-logout"),
]
