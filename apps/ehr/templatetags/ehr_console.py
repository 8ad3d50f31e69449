"""Formatting for the integration console's figures."""

from django import template

register = template.Library()


@register.filter
def seconds_short(value: float | None) -> str:
    """A duration in seconds as people read it: "850 ms", "4.2 s", "3 min 10 s", "2 h 5 min"."""
    if value is None:
        return "—"
    sign, value = ("−", -value) if value < 0 else ("", value)
    if value < 1:
        text = f"{value * 1000:.0f} ms"
    elif value < 60:
        text = f"{value:.1f} s"
    elif value < 3600:
        minutes, seconds = divmod(round(value), 60)
        text = f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    elif value < 86400:
        hours, minutes = divmod(round(value / 60), 60)
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        days, hours = divmod(round(value / 3600), 24)
        text = f"{days} d {hours} h" if hours else f"{days} d"
    return sign + text


@register.filter
def percent(value: float | None) -> str:
    """A ratio as a percentage with one decimal, "—" when there is nothing to divide."""
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"
