"""Browser-side security headers on every response: CSP with a per-request nonce and friends.

The policy has no ``'unsafe-inline'``: scripts come from ``static/`` (htmx from django-htmx,
plotly.js from a static file) or carry ``nonce="{{ csp_nonce }}"``; styles come from
``static/`` only (no ``style=`` attributes in templates). Data for scripts goes through
``json_script``, which CSP allows because it is not executed.
"""

import secrets
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

Handler = Callable[[HttpRequest], HttpResponse]

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "interest-cohort",
    )
)


def content_security_policy(nonce: str) -> str:
    """The CSP header value for one response."""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        # htmx is configured not to inject its indicator <style> (meta htmx-config in base.html).
        "style-src": f"'self' 'nonce-{nonce}'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Set CSP (nonce per request), Referrer-Policy, Permissions-Policy and friends."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(18)  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", content_security_policy(request.csp_nonce))  # type: ignore[attr-defined]
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        return response


def csp_nonce(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``csp_nonce`` for the rare ``<script nonce=…>`` a page needs."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
