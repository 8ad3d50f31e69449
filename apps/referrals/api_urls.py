from django.urls import path

from .api import ACTION_APIS, ReferralDetailApi, ReferralListApi

app_name = "referrals-api"

urlpatterns = [
    path("", ReferralListApi.as_view(), name="list"),
    path("<int:pk>/", ReferralDetailApi.as_view(), name="detail"),
    *(path(f"<int:pk>/{name.replace('_', '-')}", api.as_view(), name=name) for name, api in ACTION_APIS.items()),
]
