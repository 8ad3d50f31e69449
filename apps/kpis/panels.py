"""Panels a higher app adds to the scorecard (governance shows each workflow's owners) without
kpis importing it: the app registers a function in its ``AppConfig.ready()``; it gets the request
and the scorecard's scope and returns rendered HTML, or "" to show nothing."""

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

from .scope import Scope

Panel = Callable[[HttpRequest, Scope], SafeString]
_panels: list[Panel] = []


def panel_register(panel: Panel) -> Panel:
    """Add a panel (once, however often it is registered)."""
    if panel not in _panels:
        _panels.append(panel)
    return panel


def panels_render(request: HttpRequest, scope: Scope) -> list[SafeString]:
    """Each registered panel's HTML for this scorecard, empty ones left out."""
    return [html for panel in _panels if (html := panel(request, scope))]
