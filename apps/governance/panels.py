"""The owners panel on the scorecard (registered with apps.kpis.panels): on a one-site scorecard,
who owns each workflow there."""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from apps.kpis.scope import Scope

from .models import Duty, Workflow
from .selectors import owners_by_workflow


def owners_panel(request: HttpRequest, scope: Scope) -> SafeString:
    if len(scope.sites) != 1:
        return mark_safe("")
    site = scope.sites[0]
    found = owners_by_workflow(site_ids=[site.pk])
    rows = [(label, [found.get((site.pk, w), {}).get(d) for d in Duty.values]) for w, label in Workflow.choices]
    html = render_to_string(
        "governance/_owners_panel.html", {"site": site, "rows": rows, "duties": Duty.choices}, request=request
    )
    return mark_safe(html)  # noqa: S308 - a rendered template, escaped by the template engine
