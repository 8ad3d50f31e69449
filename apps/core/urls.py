from django.urls import path

from . import api_token_views, mfa_views, security_views, views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("sites/", views.home, name="sites"),
    path("sites/<slug:code>/", views.site_detail, name="site_detail"),
    path("account/mfa/", mfa_views.mfa_settings, name="mfa_settings"),
    path("account/mfa/verify/", mfa_views.mfa_verify, name="mfa_verify"),
    path("account/mfa/setup/", mfa_views.mfa_setup, name="mfa_setup"),
    path("account/mfa/recovery-codes/", mfa_views.mfa_recovery_codes, name="mfa_recovery_codes"),
    path("account/mfa/turn-off/", mfa_views.mfa_turn_off, name="mfa_turn_off"),
    path("account/api-keys/", api_token_views.api_tokens, name="api_tokens"),
    path("account/api-keys/<int:pk>/revoke/", api_token_views.api_token_revoke_view, name="api_token_revoke"),
    path("emergency-access/", security_views.emergency_request, name="emergency_request"),
    path("emergency-access/review/", security_views.emergency_review, name="emergency_review"),
    path("audit/", security_views.audit_report_view, name="audit_report"),
]
