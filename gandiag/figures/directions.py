"""Which direction is better for each metric, and the mark a table shows beside its name."""

from __future__ import annotations

#: "lower" / "higher" is better, or "one": closest to 1 (density; above 1 means fakes
#: crowd into dense real regions)
DIRECTIONS: dict[str, str] = {
    "fid": "lower",
    "kid": "lower",
    "fd_inf": "lower",
    "is": "higher",
    "precision": "higher",
    "recall": "higher",
    "density": "one",
    "coverage": "higher",
    "fvd_lite": "lower",
    "frame_fid": "lower",
    "ppl": "lower",
    "eval/modes_covered": "higher",
    "eval/hq_share": "higher",
    "eval/classes_covered": "higher",
    "eval/dominant_share": "lower",
    "eval/class_entropy": "higher",
    "eval/ndb_fraction": "lower",
}
MARKS = {"lower": "↓", "higher": "↑", "one": "→1"}
HINTS = {"lower": "lower is better", "higher": "higher is better", "one": "closest to 1 is best"}


def direction_mark(metric: str) -> str:
    """``"fid ↓"``-style suffix for a metric name ("" when no direction is known)."""
    d = DIRECTIONS.get(metric) or DIRECTIONS.get(metric.removeprefix("eval/"))
    return MARKS[d] if d else ""
