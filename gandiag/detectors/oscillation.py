"""Oscillation: losses and discriminator outputs swinging instead of settling (non-convergence).

Simultaneous gradient play rotates around an equilibrium instead of reaching it
(Mescheder et al. 2018, "Which training methods for GANs do actually converge?"): the
discriminator's margin and the losses swing with a period of tens to hundreds of steps,
persistently or with growing amplitude, and successive parameter updates point in
opposite directions. Batch noise also moves these signals, so the detector looks for a
*coherent* swing: a spectral peak far above the batch noise.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from gandiag import signals as S
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import finite, median
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.roles import Role, networks_with_role
from gandiag.types import Alert, Severity, StepRecord

#: series the detector watches: (label, how to read it from a record)
SERIES = ("d_margin", "loss_D", "loss_G")


def _series_values(record: StepRecord) -> dict[str, float]:
    out = {}
    r, f = record.get(S.D_REAL_RAW_MEAN), record.get(S.D_FAKE_RAW_MEAN)
    if finite(r) and finite(f):
        out["d_margin"] = r - f
    for name in ("D", "G"):
        v = record.get(S.loss(name))
        if finite(v):
            out[f"loss_{name}"] = v
    return out


def spectral_peak(x: list[float], min_cycles: int) -> tuple[float, float, float]:
    """(share of the detrended variance in the strongest frequency with at least
    ``min_cycles`` cycles per window, its cycles per window, the residual std)."""
    y = np.asarray(x, dtype=np.float64)
    n = len(y)
    t = np.arange(n)
    y = y - np.polyval(np.polyfit(t, y, 1), t)
    power = np.abs(np.fft.rfft(y)) ** 2
    total = power[1:].sum()
    hi = n // 4 + 1  # periods of at least 4 blocks
    if total <= 0 or hi <= min_cycles:
        return 0.0, 0.0, float(y.std())
    band = power[min_cycles:hi]
    i = int(band.argmax())
    if i == 0 or power[min_cycles + i] <= power[1 : min_cycles + i].max():
        # the strongest power at the band's lowest frequency, or below a lower one: the
        # spectrum falls with frequency (drift, a random walk, a step), not a peak
        return 0.0, float(min_cycles + i), float(y.std())
    # a peak between two bins spreads over both: count the neighbours too
    lo_i, hi_i = max(min_cycles, min_cycles + i - 1), min(hi, min_cycles + i + 2)
    share = float(power[lo_i:hi_i].sum() / total)
    return share, float(min_cycles + i), float(y.std())


@register_detector
class OscillationDetector(SignalDetector):
    """Growing or persistent oscillation of D's margin, the losses, or the update direction.

    Each watched series (D's margin E[D(x)] - E[D(G(z))] from the raw outputs, ``loss/D``,
    ``loss/G``) is averaged over blocks of ``block_steps`` steps; the block means' standard
    error (within-block spread / sqrt(records)) is the batch-noise level. Every block,
    over the last ``window_blocks`` block means, linearly detrended:

    * **persistent oscillation**: at least ``peak_share`` of the variance sits in one
      frequency of at least ``min_cycles`` cycles per window, and the residual swing is
      at least ``snr_min`` times the noise level;
    * **growing oscillation**: the same peak, and the swing over the second half of the
      window is at least ``growth`` times that over the first half.

    The test runs once ``min_blocks`` block means exist (the window then grows to
    ``window_blocks``). The default waits for the full window: the first alert comes at
    least ``window_blocks * block_steps`` steps (800) into training. A shorter start
    (``min_blocks=20``) alerts earlier on short periods, but with 20 points the strongest
    of the few testable frequencies holds a larger share of plain noise (3 of 10 spectral
    bins against 3 of 20), and on the benchmark it raised a false alarm on a noisy but
    healthy run while gaining 20 steps on the oscillating one, whose ~270-step period
    needs two cycles (~540 steps) to be seen at all (docs/detectors.md).
    Either must hold on ``patience_blocks`` successive blocks after ``warmup_steps``.
    Separately, **rotation**: the median of the last ``cosine_records`` measurements of
    ``update/<G>/cosine`` below ``cosine_max`` (successive generator updates reversing).
    The onset is the first block (or measurement) at which the evidence held.
    """

    name = "oscillation"
    params: ClassVar[dict[str, Any]] = {
        "block_steps": 20,
        "window_blocks": 40,
        "min_blocks": 40,
        "min_cycles": 2,
        "peak_share": 0.5,
        "snr_min": 5.0,
        "growth": 2.0,
        "patience_blocks": 3,
        "warmup_steps": 300,
        "cosine_max": -0.5,
        "cosine_records": 5,
    }
    requires_any = ((S.D_REAL_RAW_MEAN, "loss/*"),)
    provided_by_groups = ("pass losses= and d_real=/d_fake= to Monitor.step",)

    def initial_state(self) -> dict[str, Any]:
        return {
            "block": None,
            "acc": {},
            "means": {k: [] for k in SERIES},
            "se": {k: [] for k in SERIES},
            "streak": None,
            "cos": [],
            "cos_since": None,
            "alerted": False,
        }

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        block = int(record.step) // int(self.cfg["block_steps"])
        fired = None
        if st["block"] is not None and block != st["block"]:
            self._close_block()
            fired = self._judge(record.step)
        st["block"] = block
        for key, v in _series_values(record).items():
            acc = st["acc"].setdefault(key, [0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += v
            acc[2] += v * v
        fired = fired or self._rotation(record)
        if fired is None or st["alerted"]:
            return []
        st["alerted"] = True
        onset, what, evidence = fired
        return [
            self.alert(
                Severity.WARNING,
                record.step,
                onset,
                f"training is not converging: {what}",
                evidence,
                R.NON_CONVERGENCE,
            )
        ]

    def _close_block(self) -> None:
        st, keep = self.state, int(self.cfg["window_blocks"])
        for key, (n, s, ss) in st["acc"].items():
            if n < 2:
                continue
            mean = s / n
            var = max(ss / n - mean * mean, 0.0) * n / (n - 1)
            st["means"][key] = (st["means"][key] + [mean])[-keep:]
            st["se"][key] = (st["se"][key] + [math.sqrt(var / n)])[-keep:]
        st["acc"] = {}

    def _judge(self, step: int) -> tuple[int, str, dict[str, float]] | None:
        st, cfg = self.state, self.cfg
        if step < cfg["warmup_steps"]:
            return None
        best = None
        for key in SERIES:
            means = st["means"][key]
            if len(means) < min(int(cfg["min_blocks"]), int(cfg["window_blocks"])):
                continue
            share, cycles, swing = spectral_peak(means, int(cfg["min_cycles"]))
            noise = median(st["se"][key])
            snr = swing / noise if noise > 0 else math.inf
            half = len(means) // 2
            first = float(np.std(means[:half]))
            second = float(np.std(means[half:]))
            growth = second / first if first > 0 else math.inf
            peaked = share >= cfg["peak_share"]
            persistent = peaked and snr >= cfg["snr_min"]
            growing = peaked and growth >= cfg["growth"] and snr >= cfg["snr_min"] / 2
            if persistent or growing:
                best = (key, share, cycles, snr, growth, growing)
                break
        if best is None:
            st["streak"] = None
            return None
        if st["streak"] is None:
            st["streak"] = [int(step), 0]
        st["streak"][1] += 1
        if st["streak"][1] < int(cfg["patience_blocks"]):
            return None
        key, share, cycles, snr, growth, growing = best
        period = cfg["block_steps"] * len(st["means"][key]) / max(cycles, 1.0)
        kind = "growing" if growing else "persistent"
        return (
            st["streak"][0],
            (
                f"{kind} oscillation of {key.replace('_', ' ')} (period ~{period:.0f} steps, "
                f"{share:.0%} of its variance, {snr:.1f}x the batch noise)"
            ),
            {
                "peak_share": share,
                "peak_share_min": float(cfg["peak_share"]),
                "swing_over_noise": snr,
                "snr_min": float(cfg["snr_min"]),
                "amplitude_growth": growth,
                "growth_min": float(cfg["growth"]),
                "period_steps": period,
            },
        )

    def _rotation(self, record: StepRecord) -> tuple[int, str, dict[str, float]] | None:
        st, cfg = self.state, self.cfg
        if cfg["cosine_max"] is None:
            return None
        nets = [
            k.split("/")[1]
            for k in record.scalars
            if k.startswith("update/") and k.endswith("/cosine")
        ]
        # the generator by role (the run's roles, bound by the suite), else by the name G
        by_role = networks_with_role(self.roles, Role.GENERATOR)
        gens = [n for n in nets if n in by_role] or [n for n in nets if n.startswith("G")]
        if not gens:
            return None
        cos = record.get(S.update_cosine(gens[0]))
        if not finite(cos):
            return None
        keep = int(cfg["cosine_records"])
        st["cos"] = (st["cos"] + [[int(record.step), float(cos)]])[-keep:]
        if len(st["cos"]) < keep or record.step < cfg["warmup_steps"]:
            st["cos_since"] = None
            return None
        med = median(c for _, c in st["cos"])
        if med >= cfg["cosine_max"]:
            st["cos_since"] = None
            return None
        if st["cos_since"] is None:
            st["cos_since"] = int(record.step)
        return (
            st["cos_since"],
            (
                f"successive updates of {gens[0]} point in opposite directions (median cosine "
                f"{med:.2f}): the players rotate around each other"
            ),
            {"update_cosine_median": med, "cosine_max": float(cfg["cosine_max"])},
        )
