"""``/fhir/`` routes. Included last among ``fhir/…`` routes: its catch-all answers every other
path under ``/fhir/`` with a 404 OperationOutcome, so another app's route there (such as
``fhir/ConceptMap/$translate``) must come before ``include("apps.ehr.fhir_api.urls")``. The
type and id patterns follow FHIR's id rule, so ``$operation`` paths never reach ``read``.
"""

from django.urls import path, re_path

from . import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.FhirMetadataApi.as_view(), name="metadata"),
    re_path(r"^(?P<resource_type>[A-Za-z]{1,64})/?$", views.FhirSearchApi.as_view(), name="search"),
    re_path(
        r"^(?P<resource_type>[A-Za-z]{1,64})/(?P<fhir_id>[A-Za-z0-9\-.]{1,64})$",
        views.FhirReadApi.as_view(),
        name="read",
    ),
    re_path(r"^(?P<rest>[\s\S]*)$", views.FhirUnsupportedApi.as_view(), name="unsupported"),
]
