from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("owners/<slug:site>/", views.owners, name="owners"),
    path("friction/", views.friction_queue, name="friction_queue"),
    path("friction/new/", views.friction_new, name="friction_new"),
    path("friction/mine/", views.friction_mine, name="friction_mine"),
    path("friction/<int:pk>/", views.friction_detail, name="friction_detail"),
    path("rollout/", views.rollout, name="rollout"),
    path("rollout/<slug:site>/<slug:workflow>/", views.rollout_detail, name="rollout_detail"),
    path("rollout/<slug:site>/<slug:workflow>/phase/", views.rollout_phase, name="rollout_phase"),
    path("rollout/<slug:site>/<slug:workflow>/baseline/", views.rollout_baseline, name="rollout_baseline"),
    path("workarounds/", views.workarounds, name="workarounds"),
    path("workarounds/look-again/", views.workarounds_detect_now, name="workarounds_detect"),
]
