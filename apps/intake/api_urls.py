from django.urls import path

from .api import ACTION_APIS, IntakeDayApi, IntakeDetailApi

app_name = "intake-api"

urlpatterns = [
    path("", IntakeDayApi.as_view(), name="list"),
    path("<int:pk>/", IntakeDetailApi.as_view(), name="detail"),
    *(path(f"<int:pk>/{name.replace('_', '-')}", api.as_view(), name=name) for name, api in ACTION_APIS.items()),
]
