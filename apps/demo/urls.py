from django.urls import path

from . import ehr_server

app_name = "demo"

urlpatterns = [
    path("fhir/Task/<str:fhir_id>", ehr_server.task, name="ehr-task"),
    path("fhir/Appointment/<str:fhir_id>", ehr_server.appointment, name="ehr-appointment"),
]
