from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("", views.day, name="day"),
    path("checklists/", views.checklists, name="checklists"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/check/<slug:key>/", views.check, name="check"),
    path("<int:pk>/outreach/", views.outreach, name="outreach"),
    path("<int:pk>/notes/", views.note, name="note"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
