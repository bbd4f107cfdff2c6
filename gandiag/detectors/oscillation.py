"""Oscillation: losses and discriminator outputs swinging instead of settling (non-convergence).

Simultaneous gradient play rotates around an equilibrium instead of reaching it
(Mescheder et al. 2018, "Which training methods for GANs do actually converge?"): the
discriminator's margin and the losses swing with a period of tens to hundreds of steps,
persistently or with growing amplitude, and successive parameter updates point in
opposite directions. Batch noise also moves these signals, so the detector looks for a
*coherent* swing: a spectral peak far above the batch noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gandiag import signals as S
from gandiag.advice import Advice
from gandiag.detectors._stats import finite, median
from gandiag.detectors.base import register_detector
from gandiag.detectors.collapse import non_convergence_once
from gandiag.detectors.names import signal_names
from gandiag.detectors.support import SignalDetector
from gandiag.roles import Role, networks_with_role
from gandiag.state import DeclaredState
from gandiag.types import Alert, StepRecord

#: series the detector watches: (label, how to read it from a record)
SERIES = ("d_margin", "loss_D", "loss_G")


_LOSSES = (("loss_D", S.loss("D")), ("loss_G", S.loss("G")))


def _series_values(record: StepRecord) -> list[tuple[str, float]]:
    """``(series, value)`` for each watched series the record measures, in SERIES order."""
    get = record.scalars.get
    out = []
    r, f = get(S.D_REAL_RAW_MEAN), get(S.D_FAKE_RAW_MEAN)
    if finite(r) and finite(f):
        out.append(("d_margin", r - f))
    for series, key in _LOSSES:
        v = get(key)
        if finite(v):
            out.append((series, v))
    return out


def _cosine_nets(names: tuple[str, ...]) -> list[str]:
    """Networks with an update-direction cosine (``update/<NET>/cosine``), in record order."""
    return [k.split("/")[1] for k in names if k.startswith("update/") and k.endswith("/cosine")]


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


@dataclass
class OscillationState(DeclaredState):
    """State of :class:`OscillationDetector`."""

    block: int | None = None
    acc: dict[str, list[float]] = field(default_factory=dict)  # series -> [n, sum, sum sq]
    means: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in SERIES})
    se: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in SERIES})
    streak: list[int] | None = None  # [first step, blocks]
    cos: list[list[float]] = field(default_factory=list)  # [step, cosine]
    cos_since: int | None = None
    alerted: bool = False


# Rounding makes a share computed another way differ from spectral_peak's by far less
# than this (see may_peak); a residual below RESIDUAL_MIN of the window's energy is
# rounding noise itself, so there only spectral_peak can tell.
SHARE_MARGIN = 1e-3
RESIDUAL_MIN = 1e-14


def swing_by_thirds(x: list[float]) -> tuple[float, float, float]:
    """Standard deviation of the linearly detrended series in each third of the window."""
    y = np.asarray(x, dtype=np.float64)
    t = np.arange(len(y))
    y = y - np.polyval(np.polyfit(t, y, 1), t)
    a, b, c = np.array_split(y, 3)
    return float(a.std()), float(b.std()), float(c.std())


@functools.lru_cache(maxsize=16)
def _screen_basis(n: int, min_cycles: int) -> tuple[np.ndarray, np.ndarray]:
    """For windows of ``n`` values: the matrix taking a window to the DFT (bins 1..n/2)
    of its residual from its least-squares line, and the 0/1 matrix summing each band
    bin with its neighbours inside the band."""
    t = np.arange(n) - (n - 1) / 2.0
    basis = np.stack([np.ones(n) / math.sqrt(n), t / math.sqrt(float(t @ t))], axis=1)
    residual = np.eye(n) - basis @ basis.T  # projection away from constants and lines
    k = np.arange(1, n // 2 + 1)
    dft = np.exp(-2j * math.pi * np.outer(np.arange(n), k) / n)
    hi = n // 4 + 1
    neighbours = np.zeros((len(k), hi - min_cycles))
    for c in range(min_cycles, hi):
        lo_i, hi_i = max(min_cycles, c - 1), min(hi, c + 2)
        neighbours[lo_i - 1 : hi_i - 1, c - min_cycles] = 1.0
    return residual @ dft, neighbours


def may_peak(windows: list[list[float]], min_cycles: int, peak_share: float) -> list[bool]:
    """For each window (all of one length): False only when :func:`spectral_peak`'s share
    is surely below ``peak_share``, so the window cannot count as oscillating.

    Two matrix products over all windows at once instead of a least-squares fit and an
    FFT per window: the residual's spectrum from a precomputed matrix (detrend, then
    DFT), and an upper bound of the share: the largest power in three neighbouring bins
    of the band (what spectral_peak adds up around its peak) over the total. Computed
    this way the powers differ from spectral_peak's by rounding, a few ulps of the
    window's values, which moves the bound by far less than ``SHARE_MARGIN`` unless the
    residual itself is at rounding level (below ``RESIDUAL_MIN`` of the window's
    energy); such windows, windows with a non-finite value and bounds within the margin
    answer True, and the caller runs spectral_peak on them. The oscillation detector
    thus takes the same decisions as with spectral_peak alone, at a fraction of the cost
    on healthy runs.
    """
    n = len(windows[0]) if windows else 0
    if n < 4 or n // 4 + 1 <= min_cycles or any(len(w) != n for w in windows):
        return [True] * len(windows)
    to_spectrum, neighbours = _screen_basis(n, int(min_cycles))
    y = np.array(windows, dtype=np.float64)
    with np.errstate(all="ignore"):  # a non-finite window answers True, silently
        spectrum = y @ to_spectrum
        power = spectrum.real**2 + spectrum.imag**2
        total = power.sum(axis=1)
        bound = (power @ neighbours).max(axis=1) / np.where(total > 0, total, 1.0)
        energy = (y * y).sum(axis=1) * n
        sure = (total > RESIDUAL_MIN * energy) & (bound < peak_share - SHARE_MARGIN)
    return (~sure).tolist()


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
      Persistent also means present throughout: the residual's swing in each third of
      the window is at least ``spread_min`` of that in its largest third. One event (a
      dip when something in training changes, a step) has a broadband spectrum with a
      peak of its own, but it sits in one third (on the benchmark, the D margin's dip
      when a collapse began: 0.14);
    * **growing oscillation**: the same peak, the swing over the second half of the
      window at least ``growth`` times that over the first half, and rising from third
      to third.

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
    ``update/<G>/cosine`` below ``cosine_max`` and every one of them below 0 (successive
    generator updates reversing at each measurement). The sign test is the noise gate:
    where G's optimiser has no momentum (Adam with beta1 = 0, as in BigGAN, DVD-GAN and
    StyleGAN2) each update is one batch's normalised gradient, so the cosine carries the
    batch noise (on DVD-GAN-lite runs it ranged from -0.75 to +0.84 within 100 steps
    around a mean near 0, where runs with beta1 = 0.5 stay above +0.2), and three of five
    measurements below -0.5 between two above +0.49 came by chance. If batch noise alone
    puts half or more of the cosines at or above 0, five of five below 0 has a
    probability of at most 1/32; a real reversal shows in every measurement.
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
        "spread_min": 0.33,
        "patience_blocks": 3,
        "warmup_steps": 300,
        "cosine_max": -0.5,
        "cosine_records": 5,
    }
    requires_any = ((S.D_REAL_RAW_MEAN, "loss/*"),)
    provided_by_groups = (
        Advice(
            "pass losses= and d_real=/d_fake= to Monitor.step",
            "the trainer passes the losses and D's outputs at every step; nothing to set in the config",
        ),
    )

    State = OscillationState

    def bind(self, roles: Mapping[str, Role], stages: Mapping[str, str] | None = None) -> None:
        super().bind(roles, stages)
        self._generators = networks_with_role(self.roles, Role.GENERATOR)

    def check(self, record: StepRecord) -> list[Alert]:
        st = self.state
        block = int(record.step) // int(self.cfg["block_steps"])
        fired = None
        if st["block"] is not None and block != st["block"]:
            self._close_block()
            fired = self._judge(record.step)
        st["block"] = block
        accs = st["acc"]
        for key, v in _series_values(record):
            acc = accs.get(key)
            if acc is None:
                acc = accs[key] = [0, 0.0, 0.0]
            acc[0] += 1
            acc[1] += v
            acc[2] += v * v
        fired = fired or self._rotation(record)
        return non_convergence_once(self, record.step, fired)

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
        window = min(int(cfg["min_blocks"]), int(cfg["window_blocks"]))
        full = [key for key in SERIES if len(st["means"][key]) >= window]
        screened = may_peak(
            [st["means"][key] for key in full], int(cfg["min_cycles"]), cfg["peak_share"]
        )
        for key, maybe in zip(full, screened):
            if not maybe:
                continue  # its share is surely below peak_share: neither kind of swing
            means = st["means"][key]
            share, cycles, swing = spectral_peak(means, int(cfg["min_cycles"]))
            noise = median(st["se"][key])
            snr = swing / noise if noise > 0 else math.inf
            half = len(means) // 2
            first = float(np.std(means[:half]))
            second = float(np.std(means[half:]))
            growth = second / first if first > 0 else math.inf
            thirds = swing_by_thirds(means)
            # a swing present in every third of the window, not one event (a step, a
            # dip when something changes) whose broadband spectrum has a peak too
            spread = min(thirds) / max(thirds) if max(thirds) > 0 else 0.0
            peaked = share >= cfg["peak_share"]
            persistent = peaked and snr >= cfg["snr_min"] and spread >= cfg["spread_min"]
            growing = (
                peaked
                and growth >= cfg["growth"]
                and snr >= cfg["snr_min"] / 2
                and thirds[0] <= thirds[1] <= thirds[2]
            )
            if persistent or growing:
                best = (key, share, cycles, snr, growth, growing, spread)
                break
        if best is None:
            st["streak"] = None
            return None
        if st["streak"] is None:
            st["streak"] = [int(step), 0]
        st["streak"][1] += 1
        if st["streak"][1] < int(cfg["patience_blocks"]):
            return None
        key, share, cycles, snr, growth, growing, spread = best
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
                "swing_spread": spread,
                "spread_min": float(cfg["spread_min"]),
                "period_steps": period,
            },
        )

    def _rotation(self, record: StepRecord) -> tuple[int, str, dict[str, float]] | None:
        st, cfg = self.state, self.cfg
        if cfg["cosine_max"] is None:
            return None
        nets = signal_names(record).derive(_cosine_nets)
        if not nets:
            return None
        # the generator by role (the run's roles, bound by the suite), else by the name G
        by_role = self._generators
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
        cosines = [c for _, c in st["cos"]]
        med = median(cosines)
        if med >= cfg["cosine_max"] or max(cosines) >= 0.0:
            st["cos_since"] = None
            return None
        if st["cos_since"] is None:
            st["cos_since"] = int(record.step)
        return (
            st["cos_since"],
            (
                f"successive updates of {gens[0]} point in opposite directions (median cosine "
                f"{med:.2f}, all of the last {keep} below 0): the players rotate around each "
                "other"
            ),
            {
                "update_cosine_median": med,
                "cosine_max": float(cfg["cosine_max"]),
                "update_cosine_highest": max(cosines),
            },
        )
