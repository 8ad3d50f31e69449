from django.urls import path

from .api import MeApi

app_name = "core-api"

urlpatterns = [
    path("me/", MeApi.as_view(), name="me"),
]
