from django.urls import path

from . import home, patient_views

app_name = "workflow"

urlpatterns = [
    path("", home.home, name="home"),
    path("next/", home.next_item, name="next_item"),
    path("patients/", patient_views.patient_search, name="patient_search"),
    path("patients/<int:pk>/", patient_views.patient_detail, name="patient_detail"),
]
