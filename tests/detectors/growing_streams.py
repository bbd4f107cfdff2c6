"""Synthetic streams of the growing and style-based families, with faults at known steps."""

from __future__ import annotations

import math

import numpy as np

from gandiag import signals as S
from gandiag.types import StepRecord


def progan_stream(
    steps=900, phase=150, *, stuck=False, blowup_at=None, collapse=None, seed=0
):  # fmt: skip
    """Phases of ``phase`` steps: stabilise, then fade the next level in over ``phase`` steps.

    ``blowup_at``: G's gradient norm x40 and diversity x0.2 from that step on; ``collapse``
    ``(start, end)``: diversity x0.2 for those steps only (a collapse that recovers)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        level = 0 if t < phase else min(3, 1 + (t - phase) // (2 * phase))
        rel = (t - phase) % (2 * phase) if t >= phase else phase
        alpha = (
            1.0 if level == 0 or rel >= phase else (float(rel // phase) if stuck else rel / phase)
        )
        g = 0.5 * math.exp(0.3 * rng.standard_normal())
        div = 1.0 + 0.05 * rng.standard_normal()
        if blowup_at is not None and t >= blowup_at:
            g *= 40.0
            div *= 0.2
        if collapse is not None and collapse[0] <= t < collapse[1]:
            div *= 0.2
        sc = {
            S.PHASE_INDEX: float(level),
            S.PHASE_ALPHA: alpha,
            S.grad_norm("G"): g,
            S.loss("D"): -1.0 + 0.1 * rng.standard_normal() + level,
        }
        if t % 10 == 0:
            sc[S.SAMPLES_PDIST_RATIO] = div
        out.append(StepRecord(t, sc))
    return out


def style_stream(
    steps=600,
    *,
    w_collapse_at=None,
    noise_at=None,
    mix_at=None,
    spike_at=None,
    pl_nan_at=None,
    r1_blow_at=None,
    ada_runaway=False,
    seed=0,
):
    rng = np.random.default_rng(seed)
    out, p = [], 0.0
    for t in range(steps):
        jitter = math.exp(0.1 * rng.standard_normal())
        sc = {S.STYLE_W_STD: 0.8 * jitter}
        if w_collapse_at is not None and t >= w_collapse_at:
            sc[S.STYLE_W_STD] = 1e-5 * jitter
        if t % 25 == 0:
            sc[S.STYLE_NOISE_SHARE] = (
                0.9 if noise_at is not None and t >= noise_at else 0.05 * jitter
            )
            sc[S.STYLE_MIXING_EFFECT] = (
                0.001 if mix_at is not None and t >= mix_at else 0.4 * jitter
            )
            sc[S.STYLE_CHANNEL_SPIKE] = (
                60.0 if spike_at is not None and t >= spike_at else 2.5 * jitter
            )
        if t % 4 == 0:
            pl = 0.8 * jitter
            sc[S.REG_PL_LENGTH] = math.nan if pl_nan_at is not None and t >= pl_nan_at else pl
        if t % 16 == 0:
            sc[S.REG_R1] = (
                0.02 * jitter * (1e4 if r1_blow_at is not None and t >= r1_blow_at else 1)
            )
        if t % 4 == 0:
            rt = 0.9 if ada_runaway else 0.6 + 0.05 * rng.standard_normal()
            p = max(0.0, p + (0.01 if rt > 0.6 else -0.01))
            sc[S.ADA_P], sc[S.ADA_RT] = p, rt
        out.append(StepRecord(t, sc))
    return out


def level_stream(copy_from=None, steps=600, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        sc = {S.level_copy_ratio(k): 0.8 * math.exp(0.2 * rng.standard_normal()) for k in (1, 2)}
        if copy_from is not None and t >= copy_from:
            sc[S.level_copy_ratio(2)] = 1e-4
        out.append(StepRecord(t, sc))
    return out


def ca_stream(
    steps=1200,
    stage2_at=600,
    *,
    collapse_at=None,
    deterministic_at=None,
    squeezed_at=None,
    seed=0,
):
    """StackGAN's CA signals over two stages; stage II's fresh CA starts near its prior."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        stage = 0 if t < stage2_at else 1
        since = t - (0 if stage == 0 else stage2_at)
        grown = min(1.0, 0.02 + since / 150)  # a fresh CA's KL grows from near 0
        dims = [
            (0.6 if j < 4 else 0.002) * grown * math.exp(0.2 * rng.standard_normal())
            for j in range(16)
        ]
        sigma = 1.2 * math.exp(0.05 * rng.standard_normal())
        sc = {S.PHASE_INDEX: float(stage), S.CA_SIGMA_MEAN: sigma}
        if collapse_at is not None and t >= collapse_at:
            dims = [1e-4 * math.exp(0.2 * rng.standard_normal()) for _ in range(16)]
            sc[S.CA_SIGMA_MEAN] = 1.0
        if squeezed_at is not None and t >= squeezed_at:  # ~0.3 nats: informative, too little
            dims = [0.02 * math.exp(0.2 * rng.standard_normal()) for _ in range(16)]
        sc[S.CA_KL] = sum(dims)
        if deterministic_at is not None and t >= deterministic_at:
            sc = {S.PHASE_INDEX: float(stage), S.CA_SIGMA_MEAN: 0.0}
        elif t % 10 == 0:
            sc.update({S.ca_kl_dim(j): v for j, v in enumerate(dims)})
            sc[S.CA_CONDITION_NATS] = math.log(10)
        out.append(StepRecord(t, sc))
    return out


def condition_stream(steps=1200, every=50, fault_at=500, seed=0):
    """The condition probe's signals: a class-conditional G that follows its class and varies
    within it, until ``fault_at``, from where it ignores the class and collapses within it."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        sc = {S.PHASE_INDEX: float(t >= 800)}
        if t % every == 0:
            bad = t >= fault_at
            noise = math.exp(0.15 * rng.standard_normal())
            sc[S.COND_VARIANCE_SHARE] = (0.003 if bad else 0.25) * noise
            sc[S.COND_VARIANCE_SHARE_REAL] = 0.3
            sc[S.COND_WITHIN_CLASS_SPREAD] = (0.01 if bad else 0.8) * noise
            sc[S.COND_D_MATCH_GAP] = 1.5
        out.append(StepRecord(t, sc))
    return out


def growing_fault_stream(name: str) -> list[StepRecord] | None:
    """A stream in which detector ``name`` has a fault to find (None: not a family detector)."""
    if name in ("transition_instability", "fade_in"):
        return progan_stream(stuck=True, blowup_at=450)
    if name == "level_copy":
        return level_stream(copy_from=300)
    if name == "ca_collapse":
        return ca_stream(collapse_at=300, deterministic_at=900)
    if name in ("condition_ignored", "class_collapse"):
        return condition_stream()
    if name in (
        "w_collapse",
        "noise_dominated",
        "mixing_no_effect",
        "channel_spike",
        "regularizer_blowup",
        "augment_runaway",
    ):
        return style_stream(
            w_collapse_at=300,
            noise_at=300,
            mix_at=300,
            spike_at=300,
            pl_nan_at=300,
            ada_runaway=True,
        )
    return None
