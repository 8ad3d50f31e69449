from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.core import views as core_views
from apps.ehr import webhook as ehr_webhook
from apps.terminology import api as terminology_api

admin.site.site_header = "clinops administration"
admin.site.site_title = "clinops admin"
# The admin signs in through the app's own login page (django-axes lockout, idle timeout).
admin.site.login = core_views.admin_login_redirect  # type: ignore[method-assign]

login_view = auth_views.LoginView.as_view(
    redirect_authenticated_user=True,
    extra_context={"idle_minutes": int(settings.SESSION_IDLE_TIMEOUT.total_seconds() // 60)},
)

urlpatterns = [
    path("login/", login_view, name="login"),
    path("logout/", core_views.LogoutView.as_view(), name="logout"),
    path("healthz", core_views.healthz, name="healthz"),
    path("integrations/<slug:source>/fhir", ehr_webhook.receive, name="ehr-webhook"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/", include("apps.core.api_urls")),
    path("fhir/ConceptMap/$translate", terminology_api.ConceptMapTranslateApi.as_view(), name="fhir-translate"),
    # Other fhir/… routes go above this include: it ends in a catch-all (404 OperationOutcome).
    path("fhir/", include("apps.ehr.fhir_api.urls")),
    path("integrations/", include("apps.ehr.urls")),
    path("referrals/", include("apps.referrals.urls")),
    path("api/referrals/", include("apps.referrals.api_urls")),
    path("scorecard/", include("apps.kpis.urls")),
    path("results/", include("apps.results.urls")),
    path("api/results/", include("apps.results.api_urls")),
    path("intake/", include("apps.intake.urls")),
    path("notifications/", include("apps.notifications.urls")),
    # A patient's reminder links: public pages gated by the signed link alone (apps.notifications).
    path("p/", include("apps.notifications.patient_urls")),
    path("governance/", include("apps.governance.urls")),
    path("api/intake/", include("apps.intake.api_urls")),
    # "/" is the "my work" home (apps.workflow.home), ahead of core's own "" (core:home, the name
    # LOGIN_REDIRECT_URL and the brand link use: it reverses to the same "/"); core's site cards
    # are at /sites/ (core:sites). Patient search and the patient page live in workflow too.
    path("", include("apps.workflow.urls")),
    path("", include("apps.core.urls")),
]
if apps.is_installed("apps.demo"):  # the embedded/demo settings only, never production
    # The simulated EHR's FHIR Task endpoint (DEBUG only: 404 otherwise).
    urlpatterns.append(path("demo-ehr/", include("apps.demo.urls")))
