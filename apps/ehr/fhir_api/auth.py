"""Who may use the FHIR read API: token or session users with ``ehr.read_fhir_api``."""

from typing import Any

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

PERMISSION = "ehr.read_fhir_api"


class BearerTokenAuthentication(TokenAuthentication):
    """The same DRF token sent as ``Authorization: Bearer <key>``, the header FHIR clients send."""

    keyword = "Bearer"


# Token first: an anonymous call then gets 401 with WWW-Authenticate, not 403.
AUTHENTICATION_CLASSES = [TokenAuthentication, BearerTokenAuthentication, SessionAuthentication]


class CanReadFhirApi(BasePermission):
    """Signed in and holding ``ehr.read_fhir_api`` (the Integration admin role)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.has_perm(PERMISSION))
