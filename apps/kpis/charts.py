"""Plotly figures (as plain dicts for plotly.js) and sparklines, built by pure functions from
selector output: no database, no request."""

from datetime import date, timedelta
from typing import Any

from .definitions import Kpi
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
    if kpi.target is not None and weeks:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"target {kpi.target:g} {kpi.unit}",
                "x": [weeks[0], weeks[-1]],
                "y": [kpi.target, kpi.target],
                "line": {"color": TARGET, "dash": "dash", "width": 1.5},
                "hoverinfo": "skip",
            }
        )
    layout = {
        **LAYOUT,
        "title": {"text": f"{kpi.name} by week", "x": 0, "font": {"size": 15}},
        "xaxis": {"title": {"text": "week starting"}, "type": "date"},
        "yaxis": {"title": {"text": unit_label(kpi)}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.38, "x": 0},
        "margin": {**LAYOUT["margin"], "b": 96},
    }
    return {"data": data, "layout": layout}


def distribution_figure(kpi: Kpi, values: list[float]) -> dict[str, Any]:
    """A histogram of the per-item values behind the number (durations, counts)."""
    layout = {
        **LAYOUT,
        "title": {"text": f"Distribution ({len(values)} items)", "x": 0, "font": {"size": 15}},
        "xaxis": {"title": {"text": unit_label(kpi)}},
        "yaxis": {"title": {"text": "items"}, "rangemode": "tozero", **({"dtick": 1} if len(values) <= 20 else {})},
        "bargap": 0.05,
    }
    return {
        "data": [{"type": "histogram", "x": values, "marker": {"color": ACCENT}, "nbinsx": 30, "name": kpi.name}],
        "layout": layout,
    }


def sparkline_points(weeks: list[float | None], *, width: int = 120, height: int = 28) -> str:
    """An SVG polyline ``points`` attribute for the weekly values (gaps skipped)."""
    known = [(i, v) for i, v in enumerate(weeks) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = (high - low) or 1.0
    step = width / max(len(weeks) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in known)
