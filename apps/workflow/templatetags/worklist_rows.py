"""``{% worklist_rows rows %}``: a worklist's rows, rendered in Python (apps.workflow.worklist.row_html)."""

from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.utils.formats import get_format
from django.utils.safestring import SafeString

from ..worklist.row_html import RowPage, rows_html

register = template.Library()


@register.simple_tag(takes_context=True)
def worklist_rows(context: Any, rows: Any) -> SafeString:
    request = context["request"]
    user = context.get("user") or request.user
    page = RowPage(
        spec=context["spec"],
        user_id=getattr(user, "pk", None),
        can_bulk=bool(context.get("can_bulk")),
        can_claim=bool(context.get("can_claim")),
        can_supervise=bool(context.get("can_supervise")),
        show_patients=bool(context.get("show_patients")),
        show_site=bool(context.get("show_site")),
        this_url=str(context.get("this_url", "")),
        csrf_token=get_token(request),
        date_format=get_format("DATE_FORMAT"),  # looked up once a page, not once a row
    )
    return rows_html(rows, page)


@register.simple_tag(takes_context=True)
def worklist_row(context: Any, row: Any) -> SafeString:
    """One row (an htmx swap after a claim or release)."""
    return worklist_rows(context, [row])
