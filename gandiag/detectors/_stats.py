"""Streaming statistics the detectors share, with typed, JSON-serialisable state.

Each helper is a small typed dict (:class:`Baseline`, :class:`Streak`, :class:`Cusum`)
plus pure functions over it, so a detector's whole state is one nested dict of numbers
and lists: ``state_dict`` is a deep copy, ``json.dumps`` needs no encoder, and a resumed
run continues bit-for-bit like an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypedDict, TypeGuard

# 1.4826 * MAD estimates the standard deviation of a normal sample.
MAD_TO_STD = 1.4826


class Baseline(TypedDict):
    """The first ``n`` values of a signal and their robust centre and scale."""

    values: list[float]
    median: float | None
    scale: float | None


class Streak(TypedDict):
    """Since when (step) and over how many records a condition has held."""

    since: int | None
    records: int


class Cusum(TypedDict):
    """A one-sided CUSUM statistic and the step its current excursion started."""

    s: float
    start: int | None


def finite(x: float | None) -> TypeGuard[float]:
    return x is not None and math.isfinite(x)


def median(values: Iterable[float]) -> float:
    v = sorted(values)
    if not v:
        return math.nan
    m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])


# -- robust warm-up baseline -------------------------------------------------------------------
def new_baseline() -> Baseline:
    """Median and MAD-scale of the first ``n`` finite values fed; frozen afterwards."""
    return {"values": [], "median": None, "scale": None}


def baseline_feed(b: Baseline, x: float, n: int, scale_floor: float = 0.0) -> bool:
    """Feed one value; returns True once the baseline is frozen (``n`` values seen)."""
    if b["median"] is not None:
        return True
    if finite(x):
        b["values"].append(float(x))
    if len(b["values"]) >= n:
        med = median(b["values"])
        mad = median(abs(v - med) for v in b["values"])
        b["median"] = med
        b["scale"] = max(MAD_TO_STD * mad, scale_floor)
        b["values"] = []
    return b["median"] is not None


# -- persistence of a condition ----------------------------------------------------------------
def new_streak() -> Streak:
    return {"since": None, "records": 0}


def streak_update(s: Streak, condition: bool, step: int) -> None:
    """Track since which step ``condition`` has held on every record (None when it does not)."""
    if condition:
        if s["since"] is None:
            s["since"] = int(step)
            s["records"] = 0
        s["records"] += 1
    else:
        s["since"] = None
        s["records"] = 0


def onset_of(smoothed: Streak, raw: Streak) -> int:
    """Onset of a condition tested on a smoothed signal, back-dated with the raw one.

    Smoothing delays the crossing of a threshold; when the raw values have been past
    the threshold since earlier, the change began there.
    """
    since, raw_since = smoothed["since"], raw["since"]
    if since is None:
        raise ValueError("onset_of: the smoothed condition does not hold (no onset yet)")
    if raw_since is not None and raw_since < since:
        return int(raw_since)
    return int(since)


def held_with_raw(
    smoothed: Streak,
    raw: Streak,
    step: int,
    patience_steps: int,
    min_records: int = 3,
) -> bool:
    """The smoothed condition holds now and has held, back-dated by the raw one, long enough."""
    if smoothed["since"] is None or smoothed["records"] < min_records:
        return False
    return step - onset_of(smoothed, raw) >= patience_steps


def streak_held(s: Streak, step: int, patience_steps: int, min_records: int = 3) -> bool:
    return (
        s["since"] is not None
        and step - s["since"] >= patience_steps
        and s["records"] >= min_records
    )


# -- exponentially weighted mean ----------------------------------------------------------------
def ewma(prev: float | None, x: float, alpha: float) -> float:
    return float(x) if prev is None else (1.0 - alpha) * prev + alpha * float(x)


def smooth(st: dict[str, Any], key: str, x: float, step: int, tau_steps: float) -> float:
    """Exponentially weighted mean with a time constant in steps, not records.

    Signals arrive at different cadences (every step, every 50 steps...), so the weight
    of a new value is ``1 - exp(-Δstep / tau_steps)``: the same ``tau_steps`` smooths
    a signal over the same stretch of training whatever its cadence. Stores the mean in
    ``st[key]`` and the step of the last value in ``st[key + "_step"]``.
    """
    prev, last = st.get(key), st.get(key + "_step")
    if prev is None or last is None or tau_steps <= 0:
        value = float(x)
    else:
        w = 1.0 - math.exp(-max(int(step) - int(last), 1) / float(tau_steps))
        value = (1.0 - w) * prev + w * float(x)
    st[key], st[key + "_step"] = value, int(step)
    return value


# -- CUSUM ----------------------------------------------------------------------------------------
def new_cusum() -> Cusum:
    return {"s": 0.0, "start": None}


def cusum_update(c: Cusum, z: float, k: float, step: int) -> float:
    """One-sided (upward) CUSUM on a standardised value ``z``; returns the statistic.

    ``c["start"]`` is the step at which the statistic last left zero: the change-point
    estimate reported as an alert's onset.
    """
    s = max(0.0, c["s"] + float(z) - k)
    if s > 0.0 and c["s"] == 0.0:
        c["start"] = int(step)
    if s == 0.0:
        c["start"] = None
    c["s"] = s
    return s


def cusum_arl0(h: float, k: float) -> float:
    """Siegmund's approximation of the in-control average run length of a CUSUM.

    For i.i.d. standard normal inputs, reference value ``k`` and decision threshold
    ``h``: ARL0 ≈ (exp(2kb) - 2kb - 1) / (2k²) with b = h + 1.166.
    """
    b = h + 1.166
    if k == 0:
        return b * b
    return (math.exp(2 * k * b) - 2 * k * b - 1) / (2 * k * k)


def cusum_threshold(arl0: float, k: float = 0.5) -> float:
    """The CUSUM threshold ``h`` whose in-control average run length is ``arl0`` records."""
    if arl0 <= 1:
        raise ValueError(f"arl0 must be > 1 record, got {arl0}")
    lo, hi = 0.0, 100.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if cusum_arl0(mid, k) < arl0:
            lo = mid
        else:
            hi = mid
    return hi


def new_phase(st: dict[str, Any], phase: float | None, step: int) -> bool:
    """Track the phase (stage, level) a record belongs to in ``st["phase"]`` and when it
    began in ``st["phase_start"]``; True when a later phase has just begun, so the caller
    starts its own evidence over (each stage has its own networks)."""
    if not finite(phase) or phase == st["phase"]:
        return False
    later = st["phase"] is not None
    st["phase"], st["phase_start"] = phase, step
    return later
