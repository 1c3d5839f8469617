"""Lay out one subject's PHQ-9, GAD-7, neuropathy grade and Cmax on one time axis, as SVG shapes.

Pure: plain values in (datetimes, numbers, thresholds), coordinates out; the template draws them.
Each measure has its own lane (its own vertical scale) under one shared time axis, with its
thresholds as horizontal lines and, for Cmax, the target range as a band. Regimen changes are
vertical lines across every lane; alerts are markers above the lanes.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

WIDTH = 900
LEFT = 180
RIGHT = 20
TOP = 44  # room for the alert markers
LANE_HEIGHT = 100
LANE_GAP = 28
AXIS = 36
SEVERITY_ORDER = {"urgent": 0, "high": 1, "routine": 2}


@dataclass(frozen=True)
class Threshold:
    key: str
    label: str
    value: float


@dataclass
class Lane:
    key: str
    title: str
    unit: str
    low: float
    high: float
    points: list[tuple[datetime, float, str]] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    band: tuple[float, float] | None = None  # the target range (Cmax)


@dataclass(frozen=True)
class Marker:
    at: datetime
    label: str
    kind: str  # an alert's severity, or "regimen"


def layout(
    lanes: list[Lane],
    *,
    start: datetime,
    end: datetime,
    regimen_changes: list[Marker],
    alerts: list[Marker],
) -> dict:
    """Return every shape of the timeline with its coordinates (SVG user units)."""
    if end <= start:
        end = start + timedelta(days=1)
    span = (end - start).total_seconds()
    plot_width = WIDTH - LEFT - RIGHT

    def x(at: datetime) -> float:
        fraction = (at - start).total_seconds() / span
        return round(LEFT + min(max(fraction, 0.0), 1.0) * plot_width, 1)

    drawn = []
    for index, lane in enumerate(lanes):
        top = TOP + index * (LANE_HEIGHT + LANE_GAP)
        bottom = top + LANE_HEIGHT

        def y(value: float, lane=lane, bottom=bottom) -> float:
            clipped = min(max(value, lane.low), lane.high)
            return round(bottom - (clipped - lane.low) / (lane.high - lane.low) * LANE_HEIGHT, 1)

        points = sorted(lane.points)
        drawn.append(
            {
                "key": lane.key,
                "title": lane.title,
                "unit": lane.unit,
                "top": top,
                "bottom": bottom,
                "label_y": top + 18,
                "low_label": _number(lane.low),
                "high_label": _number(lane.high),
                "points": [
                    {"x": x(at), "y": y(value), "value": _number(value), "label": label}
                    for at, value, label in points
                ],
                "path": " ".join(
                    f"{'M' if i == 0 else 'L'}{x(at)},{y(value)}"
                    for i, (at, value, _label) in enumerate(points)
                ),
                "thresholds": [
                    {
                        "key": threshold.key,
                        "label": threshold.label,
                        "value": _number(threshold.value),
                        "y": y(threshold.value),
                    }
                    for threshold in lane.thresholds
                ],
                "band": (
                    {
                        "y": y(lane.band[1]),
                        "height": round(y(lane.band[0]) - y(lane.band[1]), 1),
                        "low": _number(lane.band[0]),
                        "high": _number(lane.band[1]),
                    }
                    if lane.band
                    else None
                ),
            }
        )
    height = TOP + len(lanes) * (LANE_HEIGHT + LANE_GAP) - LANE_GAP + AXIS
    axis_y = height - AXIS + 6
    ticks = []
    for step in range(5):
        at = start + (end - start) * step / 4
        anchor = "start" if step == 0 else "end" if step == 4 else "middle"
        ticks.append({"x": x(at), "label": f"{at:%d %b %Y}", "anchor": anchor})
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "plot_width": plot_width,
        "lane_height": LANE_HEIGHT,
        "plot_top": TOP,
        "plot_bottom": axis_y - 6,
        "axis_y": axis_y,
        "ticks": ticks,
        "lanes": drawn,
        "regimen_changes": [
            {"x": x(marker.at), "label": marker.label} for marker in regimen_changes
        ],
        # The most severe drawn last, so on top where two alerts share a moment.
        "alerts": [
            {"x": x(marker.at), "label": marker.label, "kind": marker.kind}
            for marker in sorted(alerts, key=lambda m: -SEVERITY_ORDER.get(m.kind, 3))
        ],
        "start": start,
        "end": end,
    }


def _number(value: float) -> str:
    return f"{value:g}"
