from django.urls import path

from . import views
from .views import walk_in, worklist

app_name = "intake"

urlpatterns = [
    path("", views.day, name="day"),
    path("checklists/", views.checklists, name="checklists"),
    path("walk-in/", walk_in.walk_in, name="walk_in"),
    path("worklist/", worklist.worklist, name="worklist"),
    path("worklist/counts/", worklist.counts, name="counts"),
    path("worklist/bulk/", worklist.bulk, name="bulk"),
    path("worklist/views/", worklist.view_save, name="view_save"),
    path("worklist/views/<int:pk>/delete/", worklist.view_delete, name="view_delete"),
    path("<int:pk>/claim/", worklist.claim, name="claim"),
    path("<int:pk>/release/", worklist.release, name="release"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/check/<slug:key>/", views.check, name="check"),
    path("<int:pk>/outreach/", views.outreach, name="outreach"),
    path("<int:pk>/notes/", views.note, name="note"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
