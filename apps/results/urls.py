from django.urls import path

from . import views

app_name = "results"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/counts/", views.counts, name="counts"),
    path("worklist/bulk/", views.bulk, name="bulk"),
    path("worklist/views/", views.view_save, name="view_save"),
    path("worklist/views/<int:pk>/delete/", views.view_delete, name="view_delete"),
    path("acknowledge/", views.acknowledge, name="acknowledge"),
    path("coverage/", views.coverage, name="coverage"),
    path("coverage/<int:pk>/cancel/", views.coverage_cancel, name="coverage_cancel"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    path("<int:pk>/release/", views.release, name="release"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/take/", views.take, name="take"),
    path("<int:pk>/notify/", views.notify, name="notify"),
    path("<int:pk>/follow-up/", views.follow_up, name="follow_up"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/notes/", views.note, name="note"),
    path("<int:pk>/reassign/", views.reassign, name="reassign"),
]
