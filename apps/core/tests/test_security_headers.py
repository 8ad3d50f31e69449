"""CSP without unsafe-inline, the other browser security headers, and Clear-Site-Data on sign-out."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from apps.core.roles import Role
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


def csp_of(response) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in response["Content-Security-Policy"].split("; ")}


def test_a_signed_in_page_carries_a_strict_csp_with_a_fresh_nonce(client, own_site):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    first, second = client.get(reverse("core:home")), client.get(reverse("core:home"))
    policy = csp_of(first)
    assert "unsafe-inline" not in first["Content-Security-Policy"]
    assert "unsafe-eval" not in first["Content-Security-Policy"]
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    assert nonce != re.search(r"'nonce-([^']+)'", csp_of(second)["script-src"]).group(1)
    # htmx (from django-htmx's static files) is loaded with the nonce and configured for CSP.
    assert f'nonce="{nonce}"'.encode() in first.content
    assert b'"includeIndicatorStyles": false' in first.content


def test_every_response_has_the_other_headers(client):
    response = client.get(reverse("login"))
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in client.get(reverse("healthz"))


def test_signing_out_clears_the_browsers_copy_of_the_site(client, own_site):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    response = client.post(reverse("logout"))
    assert response["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert client.get(reverse("core:home")).status_code == 302


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b(?![^>]*\bnonce=\"{{ csp_nonce }}\")", re.I), "<style> element without the nonce"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"hx-on", re.I), "hx-on handler (evaluated as inline JS)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_needs_unsafe_inline():
    """Templates of every app (those being written on other branches too) stay CSP-clean."""
    roots = [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR).glob("apps/*/templates")]
    found = []
    for root in roots:
        for path in root.rglob("*.html"):
            text = re.sub(r"{#.*?#}", "", path.read_text(), flags=re.S)
            found += [
                f"{path.relative_to(settings.BASE_DIR)}: {what}" for pattern, what in INLINE if pattern.search(text)
            ]
    assert not found, found
