"""The "Report friction" control at the foot of every staff page (templates/base.html)."""

from typing import Any

from django import template

from apps.core.scoping import site_list_for

from ..forms import FrictionForm
from ..models import Workflow

register = template.Library()

# URL namespaces of the workflows' pages, and the page that shows one work item.
NAMESPACES = {"referrals": Workflow.REFERRAL, "intake": Workflow.INTAKE, "results": Workflow.RESULT}
ITEM_PAGE = "detail"
BY_PERMISSION = (
    ("core.work_referrals", Workflow.REFERRAL),
    ("core.work_intake", Workflow.INTAKE),
    ("core.work_results", Workflow.RESULT),
    ("core.review_results", Workflow.RESULT),
)


def page_context(request: Any) -> tuple[str, int | None]:
    """The workflow the page belongs to (or the user's likeliest) and the work item it shows."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else ""
    if match is not None and namespace in NAMESPACES:
        item = match.kwargs.get("pk") if match.url_name == ITEM_PAGE else None
        return NAMESPACES[namespace], item
    user = request.user
    return next((wf for perm, wf in BY_PERMISSION if user.has_perm(perm)), Workflow.REFERRAL), None


@register.inclusion_tag("governance/_friction_control.html", takes_context=True)
def friction_control(context: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not getattr(user, "is_authenticated", False):
        return {"show": False}
    sites = site_list_for(user)
    if not sites:  # nobody to route a report to
        return {"show": False}
    workflow, item = page_context(request)
    form = FrictionForm(initial={"workflow": workflow, "page": request.path, "item": item})
    return {
        "show": True,
        "form": form,
        "sites": sites if item is None and len(sites) > 1 else [],
        "item": item,
        # On an item's page the report is about that item's workflow: not a choice to get wrong.
        "workflow": workflow,
        "workflow_label": Workflow(workflow).label,
        "page": request.path,
        "csrf_token": context.get("csrf_token"),
    }
