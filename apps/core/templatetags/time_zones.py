"""A time zone as people read it: "America/New_York" is shown as "America/New York"."""

from django import template

register = template.Library()


@register.filter
def zone_name(zone: object) -> str:
    """The IANA name without its underscores (no internal-looking word on a staff screen)."""
    return str(zone).replace("_", " ")
