from django.urls import path

from . import views
from .views import booking, manual, offers

app_name = "referrals"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("counts/", views.counts, name="counts"),
    path("bulk/", views.bulk, name="bulk"),
    path("views/", views.view_save, name="view_save"),
    path("views/<int:pk>/delete/", views.view_delete, name="view_delete"),
    path("new/", manual.enter, name="enter"),
    path("offers/", offers.offers, name="offers"),
    path("offers/<int:pk>/accept/", offers.accept, name="offer_accept"),
    path("offers/<int:pk>/decline/", offers.decline, name="offer_decline"),
    path("<int:pk>/attachments/<int:attachment_pk>/", manual.attachment, name="attachment"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    path("<int:pk>/release/", views.release, name="release"),
    path("<int:pk>/outreach/", views.outreach, name="outreach"),
    path("<int:pk>/notes/", views.note, name="note"),
    path("<int:pk>/slots/", booking.slots, name="slots"),
    path("<int:pk>/book/", booking.book, name="book"),
    path("<int:pk>/wait-list/", offers.wait_list, name="wait_list"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
