"""Periodic evaluation of video GANs: FVD-lite, per-frame glyph FID, classes and motion.

The counterpart of :class:`gandiag.train.evaluation.Evaluator` for video datasets
(``[N, T, C, H, W]`` clips). Scalars (``eval/*``): ``fvd_lite`` and ``frame_fid`` (when
``metrics`` is not empty), the class histogram of the samples under the bundled video
classifier's class head (``classes_covered``, ``class_entropy``, ``dominant_share``) and
``motion_ratio``, the mean frame-to-frame change of the samples over that of the real
clips, and (clips of three frames or more) ``recurrence_excess`` and ``coherence_ratio``,
the Monitor's looping and flicker measures (:mod:`gandiag.monitor.video`) on the whole
evaluation: how much more the samples come back to an earlier frame than the real clips,
and how much more alike their neighbouring frames are than distant ones, over the real
clips'. Everything here reads samples, never the detectors' signals.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import torch

from gandiag import signals
from gandiag.data import Dataset
from gandiag.types import MetricResult

log = logging.getLogger(__name__)


class VideoEvaluator:
    """Scores clips of the video GAN being trained; built once per run."""

    def __init__(
        self, dataset: Dataset, metrics: list[str], num_real: int, device: torch.device, seed: int
    ) -> None:
        self.ds, self.metrics, self.device = dataset, list(metrics), device
        rng = np.random.default_rng([seed, 5])
        self._real_index = rng.choice(len(dataset), min(num_real, len(dataset)), replace=False)
        self._model: Any = None
        self._failed = False
        # the real clips, their motion and their FVD-lite features are fixed: computed once
        self._real: torch.Tensor | None = None
        self._real_motion = 0.0
        self._real_lags: np.ndarray | None = None
        self._fvd: Any = None

    def real_batch(self, n: int) -> torch.Tensor:
        return torch.from_numpy(self.ds.batch(self._real_index[:n]))

    def _classifier(self) -> Any:
        if self._model is None and not self._failed:
            try:
                from gandiag.features.video import load_video_classifier

                self._model = load_video_classifier(self.device)
            except (FileNotFoundError, ValueError, RuntimeError) as exc:
                self._failed = True
                log.warning("video evaluation skipped: video classifier unavailable (%s)", exc)
        return self._model

    @torch.no_grad()
    def __call__(
        self, samples: torch.Tensor, step: int
    ) -> tuple[dict[str, float], list[MetricResult]]:
        fake = samples.detach().float().cpu().clamp(-1, 1)
        motion = lambda x: float((x[:, 1:] - x[:, :-1]).abs().mean())
        if self._real is None:
            self._real = self.real_batch(len(self._real_index))
            self._real_motion = motion(self._real)
        real = self._real
        scalars = {signals.EVAL_MOTION_RATIO: motion(fake) / max(self._real_motion, 1e-12)}
        if fake.shape[1] >= 3:
            from gandiag.monitor.video import coherence_of, recurrence_by_lag, recurrence_of

            if self._real_lags is None:
                self._real_lags = recurrence_by_lag(real).double().numpy()
            lags_r, lags_f = self._real_lags, recurrence_by_lag(fake).double().numpy()
            scalars[signals.EVAL_RECURRENCE_EXCESS] = recurrence_of(lags_f) - recurrence_of(lags_r)
            if coherence_of(lags_r) > 0:
                scalars[signals.EVAL_COHERENCE_RATIO] = coherence_of(lags_f) / coherence_of(lags_r)
        model = self._classifier()
        if model is None:
            return scalars, []
        preds = torch.cat([model(c.to(self.device))[0].argmax(1).cpu() for c in fake.split(256)])
        share = np.bincount(preds.numpy(), minlength=10) / len(preds)
        nz = share[share > 0]
        scalars[signals.EVAL_CLASS_ENTROPY] = float(-(nz * np.log(nz)).sum())
        scalars[signals.EVAL_DOMINANT_SHARE] = float(share.max())
        scalars[signals.EVAL_CLASSES_COVERED] = float((share >= 0.01).sum())
        results: list[MetricResult] = []
        if self.metrics:
            from gandiag.features.video import FVDLite, frame_fid

            if self._fvd is None:
                self._fvd = FVDLite(real, model)
            results = [self._fvd(fake), frame_fid(real, fake)]
        return scalars, [dataclasses.replace(r, step=step) for r in results]
