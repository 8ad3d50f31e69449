from django.urls import path

from .api import ACTION_APIS, AcknowledgeApi, CoverageApi, ResultDetailApi, ResultListApi

app_name = "results-api"

urlpatterns = [
    path("", ResultListApi.as_view(), name="list"),
    path("acknowledge", AcknowledgeApi.as_view(), name="acknowledge"),
    path("coverage", CoverageApi.as_view(), name="coverage"),
    path("<int:pk>/", ResultDetailApi.as_view(), name="detail"),
    *(path(f"<int:pk>/{name.replace('_', '-')}", api.as_view(), name=name) for name, api in ACTION_APIS.items()),
]
