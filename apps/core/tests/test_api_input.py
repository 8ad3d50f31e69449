"""Hostile JSON bodies on the DRF APIs are a 400 that says why, never a 500: every API parses
JSON with apps.core.api_parsers.JSONParser (apps.core.json_input's limits)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.parsers import JSONParser as DrfJSONParser
from rest_framework.views import APIView

from apps.core.api_parsers import JSONParser
from apps.core.roles import Role
from tests.plugins.referrals import ReferralFactory


def _api_views(patterns=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if isinstance(view_class, type) and issubclass(view_class, APIView):
                yield view_class


def test_every_api_view_parses_json_with_the_limited_parser():
    views = set(_api_views())
    assert len(views) > 10
    loose = sorted(
        view.__qualname__
        for view in views
        for parser in view().get_parsers()
        if isinstance(parser, DrfJSONParser) and not isinstance(parser, JSONParser)
    )
    assert not loose, f"parse JSON without the depth limit: {loose}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests 100001 levels deep; at most 100"),
        (b'{"note": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"note": "\xff"}', "not UTF-8 text"),
    ],
)
def test_a_hostile_body_is_400_saying_why(client, make_user, own_site, body, says):
    client.force_login(make_user(Role.SCHEDULER))
    referral = ReferralFactory(site=own_site)
    response = client.post(reverse("referrals-api:accept", args=[referral.pk]), body, content_type="application/json")
    assert response.status_code == 400
    assert says in response.json()["detail"]
