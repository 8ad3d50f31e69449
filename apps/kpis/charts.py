"""Plotly figures (as plain dicts for plotly.js) and sparklines, built by pure functions from
selector output: no database, no request."""

import math
from datetime import date, timedelta
from typing import Any

from .definitions import Kind, Kpi
from .engine import Result

INK, ACCENT, TARGET = "#1f2937", "#1d4ed8", "#b45309"
LAYOUT: dict[str, Any] = {
    "margin": {"l": 56, "r": 16, "t": 40, "b": 48},
    "font": {"family": "system-ui, sans-serif", "size": 13, "color": INK},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "height": 320,
}


def unit_label(kpi: Kpi) -> str:
    return {"h": "hours", "d": "days", "s": "seconds", "%": "%"}.get(kpi.unit, kpi.unit)


def trend_figure(result: Result, start: date) -> dict[str, Any]:
    """Weekly values as a line, with the target as a dashed line."""
    kpi = result.kpi
    weeks = [(start + timedelta(days=7 * i)).isoformat() for i in range(len(result.weeks))]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": kpi.name,
            "x": weeks,
            "y": result.weeks,
            "line": {"color": ACCENT, "width": 2},
            "connectgaps": False,
            "hovertemplate": "week of %{x}: %{y} " + kpi.unit + "<extra></extra>",
        }
    ]
    if result.target is not None and weeks:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"target {result.target:g} {kpi.unit}",
                "x": [weeks[0], weeks[-1]],
                "y": [result.target, result.target],
                "line": {"color": TARGET, "dash": "dash", "width": 1.5},
                "hoverinfo": "skip",
            }
        )
    layout = {
        **LAYOUT,
        "title": {"text": f"{kpi.name} by week", "x": 0, "font": {"size": 15}},
        "xaxis": {"title": {"text": "week starting"}, "type": "date"},
        "yaxis": {"title": {"text": unit_label(kpi)}, **_value_range(kpi)},
        "legend": {"orientation": "h", "y": -0.38, "x": 0},
        "margin": {**LAYOUT["margin"], "b": 96},
    }
    return {"data": data, "layout": layout}


def _value_range(kpi: Kpi) -> dict[str, Any]:
    """A percentage is read on 0–100 %, whatever its values; other axes start at zero."""
    if kpi.unit == "%":
        return {"range": [0, 100], "ticksuffix": " %"}
    return {"rangemode": "tozero"}


def _nice(step: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at least ``step``."""
    power = 10 ** math.floor(math.log10(step))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= step * (1 - 1e-9))


def histogram_bins(values: list[float], *, target_bins: int = 20) -> tuple[float, float, float]:
    """(start, end, size) of round bins over ``values``: a bin is never narrower than a twentieth of
    the values' size (6 h results are never cut into 0.0001 h slices), and the range spans at
    least one bin either side of a single value."""
    low, high = min(values), max(values)
    magnitude = max(abs(low), abs(high)) or 1.0
    size = _nice(max((high - low) / target_bins, magnitude / target_bins))
    start = math.floor(low / size) * size
    end = max(math.ceil(high / size) * size, start + size)
    if end == high:  # the last value sits on the edge: give it its own bin
        end += size
    return round(start, 10), round(end, 10), size


def distribution_figure(kpi: Kpi, values: list[float], *, weeks: list[float | None] | None = None) -> dict[str, Any]:
    """A histogram of the per-item values behind the number (durations, counts); for a
    percentage, the weeks by their value on 0–100 % (one item is only ever in or out)."""
    if kpi.kind == Kind.RATE:
        # Bins are [low, high): a week at 100 % goes in the last bin (90–100 %), not past the axis.
        shown = [min(v, 99.999) for v in (weeks or []) if v is not None]
        start, end, size, what = 0.0, 100.0, 10.0, "weeks"
    else:
        shown = values
        start, end, size = histogram_bins(values) if values else (0.0, 1.0, 1.0)
        what = "items"
    layout = {
        **LAYOUT,
        "title": {"text": f"Distribution ({len(shown)} {what})", "x": 0, "font": {"size": 15}},
        "xaxis": {
            "title": {"text": unit_label(kpi) + (" in the week" if what == "weeks" else "")},
            "range": [start, end],
            **({"ticksuffix": " %"} if kpi.unit == "%" else {}),
        },
        "yaxis": {"title": {"text": what}, "rangemode": "tozero", **({"dtick": 1} if len(shown) <= 20 else {})},
        "bargap": 0.05,
    }
    trace = {
        "type": "histogram",
        "x": shown,
        "marker": {"color": ACCENT},
        "xbins": {"start": start, "end": end, "size": size},
        "autobinx": False,
        "name": kpi.name,
    }
    return {"data": [trace], "layout": layout}


def sparkline_points(weeks: list[float | None], *, width: int = 120, height: int = 28) -> str:
    """An SVG polyline ``points`` attribute for the weekly values (gaps skipped)."""
    known = [(i, v) for i, v in enumerate(weeks) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = (high - low) or 1.0
    step = width / max(len(weeks) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in known)
