from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list_view, name="list"),
    path("count/", views.notification_count_view, name="count"),
    path("read-all/", views.notification_read_all_view, name="read_all"),
    path("settings/", views.notification_preferences_view, name="preferences"),
    path("<int:pk>/", views.notification_open_view, name="open"),
    path("patients/<int:pk>/opt-out/", views.patient_opt_out_view, name="patient_opt_out"),
]
