"""A synthetic video-GAN record stream with the four video failures injected (numpy only).

Healthy levels follow the per-batch spread measured on real-vs-real clip streams
(docs/detectors.md, "Video detectors"); the clip-based streams in tests/video test the
detectors on real signals, this one feeds the generic state-round-trip tests.
"""

from __future__ import annotations

import numpy as np

from gandiag import signals as S
from gandiag.types import StepRecord


def video_gan_stream(
    steps: int = 3200,
    seed: int = 0,
    *,
    frozen: tuple[int, int] | None = (500, 1000),
    loop: tuple[int, int] | None = (1200, 1700),
    flicker: tuple[int, int] | None = (1900, 2400),
    idle_d_from: int | None = 2600,
    collapse: tuple[int, int] | None = (2800, 3100),
    sample_every: int = 10,
) -> list[StepRecord]:
    rng = np.random.default_rng(seed)
    counts_rng = np.random.default_rng(
        [seed, 1]
    )  # its own draws: the other signals stay as they were

    def inside(t: int, span: tuple[int, int] | None) -> bool:
        return span is not None and span[0] <= t < span[1]

    out = []
    for t in range(steps):
        sc: dict[str, float] = {}
        for net in ("D_S", "D_T"):
            mr, mf = 1.0 + 0.3 * rng.standard_normal(), -1.0 + 0.3 * rng.standard_normal()
            sr, sf = abs(1 + 0.2 * rng.standard_normal()), abs(1 + 0.2 * rng.standard_normal())
            loss = max(0.0, 1.2 + 0.2 * rng.standard_normal())
            if net == "D_T" and idle_d_from is not None and t >= idle_d_from:
                mr = mf = 0.01
                sr = sf = 0.0
                loss = 2.0
            sc[S.d_net(net, "real", "raw_mean")] = mr
            sc[S.d_net(net, "fake", "raw_mean")] = mf
            sc[S.d_net(net, "real", "raw_std")] = sr
            sc[S.d_net(net, "fake", "raw_std")] = sf
            sc[S.loss(net)] = loss
        if t % sample_every == 0:
            motion = 0.98 + 0.12 * rng.standard_normal()
            rec = 0.12 * rng.standard_normal()
            flip = 0.08 * rng.standard_normal()
            if inside(t, frozen):
                motion, rec, flip = 0.02, 0.3, -0.13
            if inside(t, loop):
                rec = 1.8 + 0.1 * rng.standard_normal()
            if inside(t, flicker):
                motion, flip = 1.6, 0.5 + 0.05 * rng.standard_normal()
            sc[S.VIDEO_MOTION_RATIO] = motion
            sc[S.VIDEO_RECURRENCE_EXCESS] = rec
            # flip rates over legible frame pairs (90% of pairs legible on both sides)
            flip_real = 0.14
            sc[S.VIDEO_FLIP_REAL] = flip_real
            sc[S.VIDEO_FLIP_FAKE] = min(max(flip_real + flip, 0.0), 1.0)
            sc[S.VIDEO_FLIP_EXCESS] = sc[S.VIDEO_FLIP_FAKE] - flip_real
            sc[S.VIDEO_LEGIBLE_REAL] = sc[S.VIDEO_LEGIBLE_FAKE] = 0.9
            # clips per glyph class (14 of 16 readable); collapsed: 11 of them in class 3
            real_counts = counts_rng.multinomial(14, [0.1] * 10)
            fake_counts = counts_rng.multinomial(14, [0.1] * 10)
            if inside(t, collapse):
                fake_counts = counts_rng.multinomial(3, [0.1] * 10)
                fake_counts[3] += 11
            for k in range(10):
                sc[S.video_class_real(k)] = float(real_counts[k])
                sc[S.video_class_fake(k)] = float(fake_counts[k])
        out.append(StepRecord(t, sc))
    return out
