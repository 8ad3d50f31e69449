from django import template

register = template.Library()


@register.filter
def kpi_value(value: float | None, unit: str) -> str:
    """A KPI value as people read it: ``18.5 h``, ``92.3 %``, ``—`` when there is nothing to show."""
    if value is None:
        return "—"
    number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{number} %" if unit == "%" else f"{number} {unit}"


@register.filter
def signed(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + kpi_value(value, unit)
