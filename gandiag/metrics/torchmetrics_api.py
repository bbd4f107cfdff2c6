"""gandiag's FID, KID, IS and precision/recall/density/coverage as ``torchmetrics.Metric`` classes.

For Lightning validation loops and any code that already speaks torchmetrics:
``update(images, real=True|False)`` per batch, ``compute()`` at the end, ``reset()``
between evaluations, and the states synchronised across ``torch.distributed`` ranks
by torchmetrics (sums for FID, concatenation for the others). The numbers are those of
:func:`gandiag.metrics.frechet_distance`, :func:`~gandiag.metrics.kernel_inception_distance`,
:func:`~gandiag.metrics.inception_score` and :func:`~gandiag.metrics.prdc` on the same
features: state is float64 and ``compute`` calls those functions.

``feature_extractor``: a gandiag extractor name (``"inception"``, ``"glyph"``...), a
:class:`~gandiag.features.FeatureExtractor`, any ``nn.Module``, or ``None`` when
``update`` receives features ``[N, D]`` directly. ``reset_real_features=False`` keeps
the real side across ``reset()`` so a fixed reference set is extracted once.

>>> fid = FrechetInceptionDistance("glyph", reset_real_features=False)  # doctest: +SKIP
>>> fid.update(real_batch, real=True); fid.update(fake_batch, real=False)  # doctest: +SKIP
>>> fid.compute()                                                          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from gandiag.features import FeatureExtractor, get_extractor
from gandiag.metrics.frechet import FeatureStats, fid_from_stats
from gandiag.metrics.inception_score import inception_score
from gandiag.metrics.kid import kernel_inception_distance
from gandiag.metrics.prdc import prdc

__all__ = [
    "FrechetInceptionDistance",
    "InceptionScore",
    "KernelInceptionDistance",
    "PrecisionRecallDensityCoverage",
]


class _FeatureMetric(Metric):
    """Shared: the extractor, float64 features, and keeping the real side on reset."""

    higher_is_better: bool | None = False
    full_state_update = False
    _real_states: tuple[str, ...] = ()

    def __init__(
        self,
        feature_extractor: str | torch.nn.Module | FeatureExtractor | None = None,
        *,
        reset_real_features: bool = True,
        extractor_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(reset_real_features, bool):
            raise TypeError("reset_real_features must be True or False")
        self.reset_real_features = reset_real_features
        self.extractor: FeatureExtractor | None = None
        if feature_extractor is not None:
            self.extractor = get_extractor(feature_extractor, **(extractor_options or {}))

    def _features(self, images: Tensor) -> Tensor:
        if self.extractor is None:
            if images.ndim != 2:
                raise ValueError(
                    f"without a feature_extractor, update() takes features [N, D], got shape "
                    f"{tuple(images.shape)}; pass feature_extractor='inception' (or another) "
                    "to update with images"
                )
            return images.detach().to(self.device, torch.float64)
        return self.extractor(images.detach()).to(self.device, torch.float64)

    def reset(self) -> None:
        if self.reset_real_features:
            super().reset()
            return
        kept = {  # torchmetrics clears list states in place: keep copies
            name: list(v) if isinstance(v := getattr(self, name), list) else v
            for name in self._real_states
        }
        super().reset()
        for name, value in kept.items():
            setattr(self, name, value)


class FrechetInceptionDistance(_FeatureMetric):
    """FID from float64 running sums (``dist_reduce_fx="sum"``): memory independent of N."""

    _real_states = ("real_sum", "real_outer", "real_n")

    def __init__(self, feature_extractor: Any = None, *, dim: int | None = None, **kwargs: Any):
        super().__init__(feature_extractor, **kwargs)
        self.dim = dim
        for side in ("real", "fake"):
            # sized on the first update when dim is not given (then every rank must update)
            d = dim or 0
            self.add_state(f"{side}_sum", torch.zeros(d, dtype=torch.float64), "sum")
            self.add_state(f"{side}_outer", torch.zeros(d, d, dtype=torch.float64), "sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.long), "sum")

    def update(self, images: Tensor, real: bool) -> None:
        x = self._features(images)
        side = "real" if real else "fake"
        s, o = getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer")
        if s.numel() == 0:
            d = x.shape[1]
            s = torch.zeros(d, dtype=torch.float64, device=x.device)
            o = torch.zeros(d, d, dtype=torch.float64, device=x.device)
            other = "fake" if real else "real"
            if getattr(self, f"{other}_sum").numel() == 0:
                setattr(self, f"{other}_sum", s.clone())
                setattr(self, f"{other}_outer", o.clone())
        setattr(self, f"{side}_sum", s + x.sum(0))
        setattr(self, f"{side}_outer", o + x.T @ x)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + x.shape[0])

    def _stats(self, side: str) -> FeatureStats:
        n = int(getattr(self, f"{side}_n"))
        if n < 2:
            raise RuntimeError(
                f"FID needs at least 2 {side} samples, got {n}; call update(..., "
                f"real={side == 'real'}) first"
            )
        s = getattr(self, f"{side}_sum").cpu().numpy()
        mu = s / n
        sigma = (getattr(self, f"{side}_outer").cpu().numpy() - np.outer(s, mu)) / (n - 1)
        return FeatureStats(mu=mu, sigma=(sigma + sigma.T) / 2, n=n)

    def compute(self) -> Tensor:
        fid = fid_from_stats(self._stats("real"), self._stats("fake"))
        return torch.tensor(fid, dtype=torch.float64)


class _CatMetric(_FeatureMetric):
    """Real and fake features kept whole (``dist_reduce_fx="cat"``), as KID and PRDC need."""

    _real_states = ("real_features",)

    def __init__(self, feature_extractor: Any = None, **kwargs: Any) -> None:
        super().__init__(feature_extractor, **kwargs)
        self.add_state("real_features", [], "cat")
        self.add_state("fake_features", [], "cat")

    def update(self, images: Tensor, real: bool) -> None:
        getattr(self, "real_features" if real else "fake_features").append(self._features(images))

    def _both(self) -> tuple[np.ndarray, np.ndarray]:
        out = []
        for side in ("real", "fake"):
            parts = getattr(self, f"{side}_features")
            if isinstance(parts, list) and not parts:
                raise RuntimeError(f"no {side} samples; call update(..., real={side == 'real'})")
            out.append(dim_zero_cat(parts).cpu().numpy())
        return out[0], out[1]


class KernelInceptionDistance(_CatMetric):
    """KID mean and std over ``subsets`` subsets of ``subset_size`` (capped at the set size).

    ``compute()`` returns ``(mean, std)`` as torchmetrics' KID does.
    """

    def __init__(
        self,
        feature_extractor: Any = None,
        *,
        subsets: int = 100,
        subset_size: int = 1000,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(feature_extractor, **kwargs)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self) -> tuple[Tensor, Tensor]:
        real, fake = self._both()
        res = kernel_inception_distance(real, fake, self.subsets, self.subset_size, self.seed)
        return torch.tensor(res.mean, dtype=torch.float64), torch.tensor(
            res.std, dtype=torch.float64
        )


class PrecisionRecallDensityCoverage(_CatMetric):
    """Precision, recall (k=``k_pr``), density, coverage (k=``k_dc``) as a dict of tensors."""

    higher_is_better = True

    def __init__(
        self,
        feature_extractor: Any = None,
        *,
        k_pr: int = 3,
        k_dc: int = 5,
        inclusive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(feature_extractor, **kwargs)
        self.k_pr, self.k_dc, self.inclusive = k_pr, k_dc, inclusive

    def compute(self) -> dict[str, Tensor]:
        real, fake = self._both()
        res = prdc(real, fake, k_pr=self.k_pr, k_dc=self.k_dc, inclusive=self.inclusive)
        return {
            k: torch.tensor(float(getattr(res, k)), dtype=torch.float64)
            for k in ("precision", "recall", "density", "coverage")
        }


class InceptionScore(_FeatureMetric):
    """IS over ``splits`` splits; ``update(images)`` (fakes only); ``compute()`` -> (mean, std)."""

    higher_is_better = True

    def __init__(self, feature_extractor: Any = None, *, splits: int = 10, **kwargs: Any) -> None:
        super().__init__(feature_extractor, **kwargs)
        self.splits = splits
        self.add_state("logits", [], "cat")

    def update(self, images: Tensor) -> None:
        if self.extractor is None:
            if images.ndim != 2:
                raise ValueError("without a feature_extractor, update() takes logits [N, K]")
            self.logits.append(images.detach().to(self.device, torch.float64))
        else:
            logits = self.extractor.logits(images.detach())
            self.logits.append(logits.to(self.device, torch.float64))

    def compute(self) -> tuple[Tensor, Tensor]:
        if isinstance(self.logits, list) and not self.logits:
            raise RuntimeError("no samples; call update(images) first")
        res = inception_score(dim_zero_cat(self.logits).cpu().numpy(), self.splits)
        return torch.tensor(res.mean, dtype=torch.float64), torch.tensor(
            res.std, dtype=torch.float64
        )
