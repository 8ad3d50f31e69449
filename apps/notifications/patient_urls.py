"""The public, link-gated pages for patients (no sign-in): /p/<purpose>/<signed token>/."""

from django.urls import path

from . import patient_views as views

app_name = "patient"

urlpatterns = [
    path("confirm/<str:token>/", views.patient_confirm_view, name="confirm"),
    path("cancel/<str:token>/", views.patient_cancel_view, name="cancel"),
    path("form/<str:token>/", views.patient_questionnaire_view, name="questionnaire"),
    path("stop-email/<str:token>/", views.patient_stop_email_view, name="stop_email"),
    path("stop-sms/<str:token>/", views.patient_stop_sms_view, name="stop_sms"),
]
