"""Synthetic step-record streams with faults injected at known steps (seeded, numpy only)."""

from __future__ import annotations

import math

import numpy as np

from gandiag import signals as S
from gandiag.types import StepRecord


def gan_stream(
    steps: int = 3000,
    seed: int = 0,
    *,
    nan_at: int | None = None,
    explode_at: int | None = None,
    stall_at: int | None = None,
    saturate_at: int | None = None,
    saturating_loss: bool = True,
    collapse_at: int | None = None,
    early_phase_until: int = 400,
    overfit_at: int | None = None,
    hop_at: int | None = None,
    coverage_hop_at: int | None = None,
    partial_at: int | None = None,
    imbalance_at: int | None = None,
    oscillate_at: int | None = None,
    eval_every: int = 100,
    sample_every: int = 10,
) -> list[StepRecord]:
    """A healthy-looking GAN stream; each ``*_at`` argument injects one failure from that step."""
    rng = np.random.default_rng(seed)
    shift_rng = np.random.default_rng(seed + 1_000)  # leaves rng's draws as they were
    out = []
    for t in range(steps):
        sc: dict[str, float] = {}
        p_real, p_fake = 0.55 + 0.03 * rng.standard_normal(), 0.45 + 0.03 * rng.standard_normal()
        g_norm = 0.1 * math.exp(0.3 * rng.standard_normal())
        d_norm = 0.3 * math.exp(0.3 * rng.standard_normal())
        if saturate_at is not None and t >= saturate_at:
            p_real, p_fake = 0.999, 0.001
            if saturating_loss:
                g_norm *= 0.01
        if explode_at is not None and t >= explode_at:
            g_norm *= 10 ** min(5.0, 0.02 * (t - explode_at) + 2.5)
        loss_g = -math.log(max(p_fake, 1e-6)) + 0.05 * rng.standard_normal()
        loss_d = -math.log(p_real) - math.log(1 - p_fake) + 0.05 * rng.standard_normal()
        if nan_at is not None and t >= nan_at:
            loss_g = math.nan
            g_norm = math.nan
        if stall_at is not None and t >= stall_at:
            loss_g, loss_d = 0.6931471805599453, 1.3862943611198906
        sc[S.loss("G")], sc[S.loss("D")] = loss_g, loss_d
        sc[S.LOSS_NONFINITE] = float(not math.isfinite(loss_g)) + float(not math.isfinite(loss_d))
        sc[S.grad_norm("G")], sc[S.grad_norm("D")] = g_norm, d_norm
        sc[S.grad_nonfinite("G")] = 0.0 if math.isfinite(g_norm) else 10.0
        sc[S.D_REAL_PROB_MEAN], sc[S.D_FAKE_PROB_MEAN] = p_real, p_fake
        rv = 0.05 * rng.standard_normal()
        if overfit_at is not None and t >= overfit_at:
            rv += min(0.9, 0.002 * (t - overfit_at) + 0.5)
        sc[S.D_RV], sc[S.D_RT] = rv, 0.3 + 0.1 * rng.standard_normal()
        # the three means r_v is made of (d_overfitting smooths them, then takes the ratio)
        d_train, d_fake = 1.0 + 0.1 * rng.standard_normal(), -1.0 + 0.1 * rng.standard_normal()
        if oscillate_at is not None and t >= oscillate_at:  # growing swing, period 100 steps
            swing = 0.3 * (1 + (t - oscillate_at) / 200) * math.sin(2 * math.pi * t / 100)
            d_train, d_fake = d_train + swing, d_fake - swing
            loss_d = loss_d - swing
        sc[S.D_REAL_RAW_MEAN], sc[S.D_FAKE_RAW_MEAN] = d_train, d_fake
        sat = imbalance_at is not None and t >= imbalance_at
        sc[S.d_net("D_a", "real", "prob_mean")] = p_real
        sc[S.d_net("D_a", "fake", "prob_mean")] = p_fake
        sc[S.d_net("D_b", "real", "prob_mean")] = 0.995 if sat else p_real
        sc[S.d_net("D_b", "fake", "prob_mean")] = 0.004 if sat else p_fake
        sc[S.D_VAL_RAW_MEAN] = d_train - rv * (d_train - d_fake)
        if t % sample_every == 0:
            pd = (
                0.15 + 0.05 * rng.random()
                if t < early_phase_until
                else 0.95 + 0.05 * rng.standard_normal()
            )
            if collapse_at is not None and t >= collapse_at:
                pd = 0.05 + 0.02 * rng.random()
            sc[S.SAMPLES_PDIST_RATIO] = pd
        if t % eval_every == 0 and t > 0:
            modes = int(rng.integers(6, 9)) if t >= early_phase_until else 1
            dominant = 3
            if hop_at is not None and t >= hop_at:
                modes, dominant = 1, (t // eval_every) % 8
            sc[S.EVAL_MODES_COVERED], sc[S.EVAL_NUM_MODES] = float(modes), 8.0
            sc[S.EVAL_DOMINANT_MODE] = float(dominant)
            sc[S.EVAL_DOMINANT_SHARE] = 0.9 if modes == 1 else 0.2
            sc[S.EVAL_HQ_SHARE] = 0.8
            # label-free coverage at the same cadence: near the null when healthy
            excess, missed = 0.05 + 0.03 * rng.random(), 0.02 + 0.04 * rng.random()
            if t < early_phase_until:
                excess, missed = 0.6, 0.8
            if partial_at is not None and t >= partial_at:
                excess = 0.55 + 0.05 * rng.random()
            if collapse_at is not None and t >= collapse_at:
                excess, missed = 0.9, 0.9
            # the probe fakes' move since the previous evaluation: small for a generator
            # settling on the data, large in the early phase and while hopping
            shift = 0.05 + 0.1 * shift_rng.random() if t >= early_phase_until else 0.8
            if coverage_hop_at is not None and t >= coverage_hop_at:
                excess, missed, shift = 0.8, 0.85, 0.85 + 0.1 * shift_rng.random()
            sc[S.COVERAGE_TOP_BIN_EXCESS], sc[S.COVERAGE_BINS_MISSED] = excess, missed
            sc[S.COVERAGE_TOP_BIN_SHARE] = excess + 0.06
            sc[S.COVERAGE_FAKE_SHIFT] = shift
        out.append(StepRecord(t, sc))
    return out


def vae_stream(
    steps: int = 2000,
    seed: int = 0,
    *,
    dims: int = 8,
    dead_from: int | None = None,
    dead_dims: int = 0,
    sample_every: int = 10,
) -> list[StepRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        kl = [0.8 + 0.1 * rng.random() for _ in range(dims)]
        if dead_from is not None and t >= dead_from:
            for j in range(dead_dims):
                kl[j] = 0.001 * rng.random()
        sc = {
            S.loss("vae"): 50.0 + rng.standard_normal(),
            S.VAE_RECON: 40.0,
            S.VAE_KL: float(sum(kl)),
        }
        if t % sample_every == 0:
            for j, v in enumerate(kl):
                sc[S.vae_kl_dim(j)] = v
            active = sum(v > 0.01 for v in kl)
            sc[S.VAE_ACTIVE_UNITS], sc[S.VAE_ACTIVE_FRACTION] = float(active), active / dims
        out.append(StepRecord(t, sc))
    return out
