from django.urls import path

from . import views
from .views import walk_in

app_name = "intake"

urlpatterns = [
    path("", views.day, name="day"),
    path("checklists/", views.checklists, name="checklists"),
    path("walk-in/", walk_in.walk_in, name="walk_in"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/check/<slug:key>/", views.check, name="check"),
    path("<int:pk>/outreach/", views.outreach, name="outreach"),
    path("<int:pk>/notes/", views.note, name="note"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
