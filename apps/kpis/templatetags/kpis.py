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


@register.filter
def difference_unit(unit: str) -> str:
    """The unit of a difference: two percentages differ by percentage points."""
    return "points" if unit == "%" else unit


@register.filter
def interval_text(interval: object, unit: str) -> str:
    """``95 % interval −1.0 to +9.4 h`` (empty without an interval)."""
    if interval is None:
        return ""
    u = difference_unit(unit)
    low, high = (signed(getattr(interval, name), "").strip() for name in ("low", "high"))
    return f"95 % interval {low} to {high} {u}"
