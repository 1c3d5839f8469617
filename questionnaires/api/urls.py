from django.urls import path

from .views import InstrumentDetailView, InstrumentFhirView, InstrumentListView

urlpatterns = [
    path("instruments/", InstrumentListView.as_view(), name="instrument-list"),
    path("instruments/<str:code>/", InstrumentDetailView.as_view(), name="instrument-detail"),
    path("instruments/<str:code>/fhir/", InstrumentFhirView.as_view(), name="instrument-fhir"),
]
