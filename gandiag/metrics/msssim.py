"""MS-SSIM diversity: mean MS-SSIM over random pairs of generated samples (lower = more diverse).

The sample-diversity measure of Odena et al. 2017 (AC-GAN) that Karras et al. 2018 report for
progressive growing: MS-SSIM (Wang et al. 2003) between random pairs of samples drawn from one
generator (or one class), averaged. Identical samples give 1; a collapsed generator is close
to 1; independent images far less.

Computed with torchmetrics' ``multiscale_structural_similarity_index_measure`` (no weights).
The standard five scales with an 11-pixel Gaussian window need images larger than 160 px; at
the 28-32 px of glyphs this uses **three scales and a 5-pixel window** (sigma 1.5), with the
first three standard scale weights renormalised to sum to 1; scores are therefore comparable
between runs at the same size, not with published 5-scale values.
"""

from __future__ import annotations

import torch

#: the standard scale weights (Wang et al. 2003) of the finest three scales, renormalised
_BETAS5 = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def scale_settings(size: int) -> tuple[tuple[float, ...], int]:
    """``(betas, kernel_size)`` for square images of ``size`` pixels: as many standard scales
    as fit (up to five, at least two), with an 11-pixel window where it fits, else 5."""
    for scales in (5, 4, 3, 2):
        for kernel in (11, 5):
            if size > (kernel - 1) * 2 ** (scales - 1):
                betas = _BETAS5[:scales]
                total = sum(betas)
                return tuple(b / total for b in betas), kernel
    raise ValueError(
        f"images of {size} px are too small for MS-SSIM (two scales with a 5-pixel window "
        "need more than 8 px); use plain SSIM for them"
    )


def msssim_diversity(
    images: torch.Tensor,
    *,
    pairs: int = 1000,
    seed: int = 0,
    data_range: float = 2.0,
    batch_size: int = 256,
) -> float:
    """Mean MS-SSIM over ``pairs`` random pairs of distinct ``images`` ``[N, C, H, W]``.

    Pairs are drawn with replacement from a seeded generator (never the global RNG); images
    are in a range of width ``data_range`` (2 for [-1, 1]).
    """
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    if images.dim() != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square [N, C, H, W], got shape {tuple(images.shape)}")
    n = images.shape[0]
    if n < 2:
        raise ValueError(f"MS-SSIM diversity needs at least 2 images, got {n}")
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    betas, kernel = scale_settings(int(images.shape[-1]))
    gen = torch.Generator().manual_seed(seed)
    first = torch.randint(0, n, (pairs,), generator=gen)
    # a second index different from the first: shift by 1..n-1
    second = (first + torch.randint(1, n, (pairs,), generator=gen)) % n
    x = images.detach().double()  # float32 leaves ~4e-6 on identical images
    scores = []
    for start in range(0, pairs, batch_size):
        i, j = first[start : start + batch_size], second[start : start + batch_size]
        a, b = x[i.to(x.device)], x[j.to(x.device)]
        scores.append(
            multiscale_structural_similarity_index_measure(
                a, b, kernel_size=kernel, betas=betas, data_range=data_range, reduction="none"
            ).double()
        )
    return float(torch.cat(scores).mean())
