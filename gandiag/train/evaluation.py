"""Periodic evaluation during training: ground-truth mode coverage and sample metrics.

2-D data: modes covered and high-quality share against the known mixture
(:func:`gandiag.data.score_modes`). Glyph-like images (1 channel): the class histogram
of samples under the bundled glyph classifier (and, for a class-conditional generator,
whether its samples show the class they were drawn for), and FID/KID/PR/DC through
``gandiag.evaluate`` with the glyph extractor. Stacked glyphs: each channel is
classified, giving one of 1,000 modes per sample. Everything here reads samples, never
the signals the detectors read, so it is ground truth for the failure labels.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gandiag import signals
from gandiag.data import Dataset, score_modes
from gandiag.log import get_logger
from gandiag.types import MetricResult

_log = get_logger("train")


def upsampling_factor(images: torch.Tensor) -> int:
    """The largest power-of-two ``f`` for which every image is constant on aligned ``f x f``
    blocks: samples drawn at ``1/f`` of their size and upsampled by nearest neighbour."""
    f = 1
    h, w = images.shape[-2:]
    while h % (2 * f) == 0 and w % (2 * f) == 0 and 2 * f < min(h, w):
        g = 2 * f
        coarse = images[..., ::g, ::g]
        if not torch.equal(images, F.interpolate(coarse, scale_factor=g, mode="nearest")):
            break
        f = g
    return f


def kid_subset_size(n: int) -> int:
    """KID's subset size for an evaluation of ``n`` samples a side: half the set, at most
    1,000 (the anchors' default). A subset as large as the set draws the same set every
    time, so the spread over subsets is no uncertainty (std NaN, and a warning at every
    evaluation)."""
    return min(1000, max(2, n // 2))


class Evaluator:
    """Scores samples of the model being trained; built once per run."""

    def __init__(
        self, dataset: Dataset, metrics: list[str], num_real: int, device: torch.device, seed: int
    ) -> None:
        self.ds, self.metrics, self.device = dataset, list(metrics), device
        self._classifier: Any = None
        self._classifier_failed = False
        self._metrics_failed = False
        self._real_accuracy: dict[int, float] = {}  # by upsampling factor of the samples
        rng = np.random.default_rng([seed, 5])
        self._real_index = rng.choice(len(dataset), min(num_real, len(dataset)), replace=False)
        # Only data whose classes a bundled classifier knows gets a class histogram (the
        # glyph classifier knows the glyphs; other labels are not its classes).
        self.uses_classifier = dataset.capabilities.classifier == "glyph"

    def real_batch(self, n: int) -> torch.Tensor:
        """``n`` fixed real items (float, model range), e.g. as interpolation end points."""
        return torch.from_numpy(self.ds.batch(self._real_index[:n]))

    def __call__(
        self, samples: torch.Tensor, step: int, labels: torch.Tensor | None = None
    ) -> tuple[dict[str, float], list[MetricResult]]:
        """``(eval scalars, metric results)`` for ``samples`` drawn at ``step`` (for the
        classes ``labels`` when the generator is class-conditional)."""
        if self.ds.kind == "points":
            pts = samples.detach().float().cpu().numpy().reshape(len(samples), -1)
            if self.ds.modes is None:
                return {}, []
            return score_modes(pts, self.ds.modes).to_scalars(), []
        scalars = self._class_histogram(samples) if self.uses_classifier else {}
        if self.uses_classifier and labels is not None and self.ds.labels is not None:
            scalars.update(self._class_consistency(samples, labels))
        return scalars, self._metrics(samples, step)

    # -- glyph classifier -----------------------------------------------------------------------
    def _load_classifier(self) -> Any:
        if self._classifier is None and not self._classifier_failed:
            try:
                from gandiag.features import load_glyph_classifier

                self._classifier = load_glyph_classifier(device=self.device)
            except (ImportError, FileNotFoundError, ValueError, RuntimeError) as exc:
                self._classifier_failed = True
                _log.warning(
                    f"class-histogram evaluation skipped: glyph classifier unavailable ({exc})"
                )
        return self._classifier

    @torch.no_grad()
    def _predict(self, images: torch.Tensor) -> np.ndarray:
        clf = self._load_classifier()
        x = images.float().to(self.device)
        if x.shape[-1] != 28:
            x = F.interpolate(
                x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False
            )
        preds = [clf.logits(chunk).argmax(1) for chunk in x.split(500)]
        return torch.cat(preds).cpu().numpy()

    def _class_histogram(self, samples: torch.Tensor) -> dict[str, float]:
        if self._load_classifier() is None:
            return {}
        classes = int(self._classifier.head.out_features)  # the classes it knows
        stacked = self.ds.capabilities.stacked_channels and samples.shape[1] > 1
        if stacked:  # a mode is a combination of the channels' classes
            labels = np.zeros(len(samples), dtype=np.int64)
            for c in range(samples.shape[1]):
                labels = labels * classes + self._predict(samples[:, c : c + 1])
            k = classes ** samples.shape[1]
        else:
            labels, k = self._predict(samples[:, :1]), classes
        counts = np.bincount(labels, minlength=k)
        share = counts / counts.sum()
        nz = share[share > 0]
        out = {
            signals.EVAL_CLASS_ENTROPY: float(-(nz * np.log(nz)).sum()),
            signals.EVAL_DOMINANT_MODE: float(counts.argmax()),
            signals.EVAL_DOMINANT_SHARE: float(share.max()),
        }
        if not stacked:
            out[signals.EVAL_CLASSES_COVERED] = float((share >= 0.01).sum())
            out[signals.EVAL_NUM_CLASSES] = float(k)
        else:  # stacked: a mode is covered by at least one sample (Metz et al. 2017)
            out[signals.EVAL_MODES_COVERED] = float((counts > 0).sum())
            out[signals.EVAL_NUM_MODES] = float(k)
        return out

    def _class_consistency(self, samples: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """Do samples show the class they were drawn for? The classifier's accuracy on them
        against its accuracy on labelled reals at the samples' resolution, both above chance
        (uniform classes)."""
        if self._load_classifier() is None or samples.shape[1] != 1:
            return {}
        asked = labels.detach().cpu().numpy().astype(np.int64)
        chance = 1.0 / len(np.unique(asked))
        # an early phase's samples (StackGAN's stage I, a growing model's low resolutions)
        # are upsampled to full size: the classifier's ceiling is its accuracy on reals
        # brought to the same resolution, not at full detail
        factor = upsampling_factor(samples)
        if factor not in self._real_accuracy:
            reals = torch.from_numpy(self.ds.batch(self._real_index))
            if factor > 1:
                reals = F.interpolate(F.avg_pool2d(reals, factor), scale_factor=factor)
            truth = np.asarray(self.ds.labels)[self._real_index]
            self._real_accuracy[factor] = float((self._predict(reals) == truth).mean())
        ceiling = self._real_accuracy[factor]
        accuracy = float((self._predict(samples) == asked).mean())
        out = {
            signals.EVAL_CLASS_ACCURACY: accuracy,
            signals.EVAL_CLASS_ACCURACY_REAL: ceiling,
        }
        if ceiling > chance:  # a classifier no better than chance says nothing
            out[signals.EVAL_CLASS_CONSISTENCY] = (accuracy - chance) / (ceiling - chance)
        return out

    # -- FID / KID / PR / DC --------------------------------------------------------------------
    def _metrics(self, samples: torch.Tensor, step: int) -> list[MetricResult]:
        if not self.metrics or self._metrics_failed or not self.uses_classifier:
            return []
        if samples.shape[1] != 1:
            return []  # the glyph extractor sees one channel
        try:
            from gandiag.evaluate import evaluate
        except ImportError as exc:
            self._metrics_failed = True
            _log.warning(f"metrics skipped: gandiag.evaluate unavailable ({exc})")
            return []
        real = torch.from_numpy(self.ds.batch(self._real_index))
        fake = samples.detach().float().cpu().clamp(-1, 1)
        from gandiag.features.glyph import GlyphExtractor

        note = ""
        size = tuple(GlyphExtractor.size)
        if tuple(real.shape[-2:]) != size or tuple(fake.shape[-2:]) != size:
            # larger glyphs (progressive growing, StyleGAN, StackGAN at 32 px) and the early
            # phases of a growing model: both sets to the classifier's size, as `gandiag
            # evaluate --resize` does, and the protocol says so
            note = (
                f"; real {'x'.join(map(str, real.shape[-2:]))} and fake "
                f"{'x'.join(map(str, fake.shape[-2:]))} resized to {size[0]}x{size[1]} "
                "(antialiased bilinear) before the extractor"
            )
            real, fake = _resized(real, size), _resized(fake, size)
        try:
            results = evaluate(
                real,
                fake,
                metrics=tuple(self.metrics),
                extractor="glyph",
                kid_subset_size=kid_subset_size(min(len(real), len(fake))),
            )
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            self._metrics_failed = True
            _log.warning(f"metrics skipped from step {step} on: {exc}")
            return []
        return [
            dataclasses.replace(
                r,
                step=step,
                protocol=dataclasses.replace(
                    r.protocol, preprocessing=r.protocol.preprocessing + note
                ),
            )
            for r in results.values()
        ]


def _resized(images: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Images (uint8, or float in [-1, 1]) as float in [-1, 1] at ``size``."""
    x = images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1)


def metric_scalars(results: list[MetricResult]) -> dict[str, float]:
    """``eval/<name>`` scalars of metric results (finite values only)."""
    return {signals.eval_metric(r.name): float(r.value) for r in results if math.isfinite(r.value)}
