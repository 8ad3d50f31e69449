from typing import Any

from django import template

from ..selectors import notification_unread_count

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notifications_bell(context: dict[str, Any]) -> dict[str, Any]:
    """The header's link to the notifications with the unread count (polled in the background)."""
    user = context["request"].user
    return {"unread": notification_unread_count(user=user) if user.is_authenticated else 0}
