from django.urls import path

from . import views

app_name = "kpis"

urlpatterns = [
    path("", views.scorecard, name="scorecard"),
    path("export.csv", views.export, name="export"),
    path("targets/<slug:site>/", views.targets, name="targets"),
    path("minutes/<slug:site>/", views.standard_minutes, name="minutes"),
    path("staffing/<slug:site>/", views.staffing, name="staffing"),
    path("<slug:key>/", views.detail, name="detail"),
    path("<slug:key>/items.csv", views.items_csv, name="items_csv"),
]
