"""Synthetic translation-probe streams with one failure injected at a known step (numpy only)."""

from __future__ import annotations

import math

import numpy as np

from gandiag.types import StepRecord

HEALTHY = {  # per-generator values in the ranges healthy glyph runs show
    "identity_ratio": 0.6,
    "domain_progress": 0.6,
    "input_corr": 0.8,
    "output_diversity": 0.9,
    "noise_diversity": 0.2,
    "class_kept": 0.85,
    "cycle_l1": 0.08,
    "cycle_l1_perturbed": 0.085,
    "noise_gain": 0.02,
    "blur_gain": 0.06,
    "fine_blur_gain": 0.08,
    "psnr_gain": 2.0,
    "ssim_gain": 0.1,
}
FAULTS = {
    "identity_mapping": {"domain_progress": 0.2, "identity_ratio": 0.3},
    "colour_inversion": {"input_corr": -0.8},
    "steganography": {"cycle_l1": 0.08, "blur_gain": 1.4},
    "translation_collapse": {"output_diversity": 0.05},
    "content_lost": {"class_kept": 0.1},
    "sr_no_gain": {"psnr_gain": -1.5},
    "ignored_noise": {"noise_diversity": 0.001},
}


def translation_stream(fault=None, at=600, steps=2000, every=50, seed=0, nets=("G_AB", "G_BA")):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(0, steps, every):
        sc = {}
        for net in nets:
            for k, v in HEALTHY.items():
                value = v * math.exp(0.1 * rng.standard_normal())
                if fault and t >= at and net == nets[0]:
                    value = FAULTS[fault].get(k, value)
                sc[f"translation/{net}/{k}"] = value
        out.append(StepRecord(t, sc))
    return out
