"""Metrics of :func:`gandiag.evaluate.evaluate` that read images or the generator, not features.

* ``ms_ssim``: MS-SSIM diversity (:mod:`gandiag.metrics.msssim`) of ``MSSSIM_SAMPLES`` fakes
  over ``MSSSIM_PAIRS`` random pairs; lower is more diverse. At 32 px: 3 scales, 5-px window.
* ``ppl``: perceptual path length in Z (:mod:`gandiag.metrics.ppl`) over ``PPL_SAMPLES``
  latent pairs, epsilon 1e-4, with the call's feature extractor as the distance (the glyph
  classifier by default) **in place of LPIPS**; needs ``fake`` to be a generator sampler
  (:func:`gandiag.evaluate.sample_callable`).
"""

from __future__ import annotations

from typing import Any

import torch

from gandiag.metrics.msssim import msssim_diversity, scale_settings
from gandiag.metrics.ppl import perceptual_path_length
from gandiag.metrics.registry import MetricContext, register_metric
from gandiag.types import MetricResult

MSSSIM_SAMPLES = 500
MSSSIM_PAIRS = 1000
PPL_SAMPLES = 500
PPL_EPSILON = 1e-4


def _fake_images(ctx: MetricContext, n: int) -> torch.Tensor:
    """Up to ``n`` fakes in [-1, 1]: drawn from a sampler, or a seeded subset of the set."""
    src = ctx.fake_source
    if callable(src) and not isinstance(src, torch.Tensor) and not hasattr(src, "shape"):
        with torch.no_grad():
            x = src(n)
    else:
        from gandiag.evaluate import load_images

        x = load_images(src)
        if len(x) > n:
            idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(ctx.seed))[:n]
            x = x[idx]
    x = torch.as_tensor(x).detach().cpu()
    return x.double() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.double()


@register_metric(
    "ms_ssim", needs=("images",), summary="mean pairwise MS-SSIM of the fakes (lower = diverse)"
)
def ms_ssim(ctx: MetricContext) -> dict[str, MetricResult]:
    images = _fake_images(ctx, MSSSIM_SAMPLES)
    betas, kernel = scale_settings(int(images.shape[-1]))
    value = msssim_diversity(images, pairs=MSSSIM_PAIRS, seed=ctx.seed)
    opts: dict[str, Any] = {
        "samples": len(images),
        "pairs": MSSSIM_PAIRS,
        "scales": len(betas),
        "kernel_size": kernel,
    }
    return {"ms_ssim": ctx.result("ms_ssim", value, opts)}


@register_metric(
    "ppl",
    needs=("generator",),
    summary="perceptual path length in Z with the extractor's features in place of LPIPS",
)
def ppl(ctx: MetricContext) -> dict[str, MetricResult]:
    src = ctx.fake_source
    if not (hasattr(src, "generator") and hasattr(src, "latent_dim")):
        raise ValueError(
            "ppl needs the generator, not images: pass fake=gandiag.evaluate.sample_callable("
            "G, latent_dim) to evaluate"
        )
    device = getattr(src, "device", None)

    def generate(z: torch.Tensor) -> torch.Tensor:
        return src.generator(z.to(device) if device is not None else z)

    value = perceptual_path_length(
        generate,
        int(src.latent_dim),
        features=ctx.extractor,
        num_samples=PPL_SAMPLES,
        epsilon=PPL_EPSILON,
        seed=ctx.seed,
    )
    opts = {"samples": PPL_SAMPLES, "epsilon": PPL_EPSILON, "space": "z", "distance": "features"}
    return {"ppl": ctx.result("ppl", value, opts)}
