"""Who may use the FHIR read API: token or session users with ``ehr.read_fhir_api``."""

from typing import Any

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.core.api_tokens import ApiTokenAuthentication

PERMISSION = "ehr.read_fhir_api"

# An API key first (``Token <key>`` or ``Bearer <key>``, the header FHIR clients send): an
# anonymous call then gets 401 with WWW-Authenticate, not 403.
AUTHENTICATION_CLASSES = [ApiTokenAuthentication, SessionAuthentication]


class CanReadFhirApi(BasePermission):
    """Signed in and holding ``ehr.read_fhir_api`` (the Integration admin role)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.has_perm(PERMISSION))
