from django.urls import path

from . import ehr_server

app_name = "demo"

urlpatterns = [
    path("fhir/Task/<str:fhir_id>", ehr_server.task, name="ehr-task"),
    path("fhir/Appointment/<str:fhir_id>", ehr_server.appointment, name="ehr-appointment"),
    path("fhir/Appointment", ehr_server.appointment_create, name="ehr-appointment-create"),
    path("fhir/Communication", ehr_server.communication_create, name="ehr-communication-create"),
    path("fhir/Schedule", ehr_server.schedule_search, name="ehr-schedule-search"),
    path("fhir/Slot", ehr_server.slot_search, name="ehr-slot-search"),
]
