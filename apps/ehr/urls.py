"""URLs of the ehr app, mounted at ``integrations/`` (clinops/urls.py), namespace ``ehr``."""

from django.urls import path

from . import v2_webhook, views, views_v2

app_name = "ehr"

urlpatterns = [
    # --- the integration console (core.administer_integrations) ---
    path("", views.console, name="console"),
    path("inbox/", views.inbox_list, name="inbox_list"),
    path("inbox/retry/", views.inbox_retry, name="inbox_retry"),
    path("inbox/replay/", views.inbox_replay, name="inbox_replay"),
    path("inbox/<int:pk>/", views.inbox_detail, name="inbox_detail"),
    path("inbox/<int:pk>/hold/", views.inbox_hold, name="inbox_hold"),
    path("hl7v2/", views_v2.hl7_list, name="hl7_list"),
    path("hl7v2/<int:pk>/", views_v2.hl7_detail, name="hl7_detail"),
    path("hl7v2/<int:pk>/convert/", views_v2.hl7_replay, name="hl7_replay"),
    path("hl7v2/<int:pk>/app-ack/send/", views_v2.hl7_app_ack_send, name="hl7_app_ack_send"),
    path("outbox/", views.outbox_list, name="outbox_list"),
    path("outbox/retry/", views.outbox_retry, name="outbox_retry"),
    path("outbox/<int:pk>/", views.outbox_detail, name="outbox_detail"),
    # --- EHR-facing endpoints (token-authenticated, no session) ---
    # The webhook, integrations/<source>/fhir, moves here from clinops/urls.py (lead).
    path("<slug:source>/hl7v2", v2_webhook.receive, name="hl7v2_receive"),
]
