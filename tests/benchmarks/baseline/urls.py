from django.urls import path

from .views import InsertView, NoopView

urlpatterns = [path("noop", NoopView.as_view()), path("insert", InsertView.as_view())]
