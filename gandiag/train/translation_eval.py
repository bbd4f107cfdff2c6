"""Evaluation and triplet grids of image-to-image models on the held-out data.

Scalars (``eval/<NET>_<what>``, NET the generator) measured on the held-out set, which
the model never trains on and the translation probes use only its first few items of:

- ``fid``, ``kid``: outputs against held-out reals of the output domain, glyph features
  (per domain: ``G_AB`` against B, ``G_BA`` against A);
- ``class_kept``: share of outputs the glyph classifier gives the input's class, and
  ``target_class_acc``, its accuracy on the real images of the output domain;
- ``class_kept_inverted``: the same on the negated outputs (an inverted translation keeps
  the glyph in negative);
- ``classes_covered``: classes predicted for at least 1% of the outputs, and
  ``classes_effective``, the effective number of predicted classes (exp of the entropy of
  their histogram: 1 for one class, k for k equal ones; a few stray outputs barely move it);
- ``input_l1``: mean |G(x) - x| (x bicubic-upsampled for SR); ``background``: median pixel
  of the outputs (glyphs are light on a dark background, -1);
- ``true_l1``: mean |G(x) - T(x)|, T(x) the correct translation of x: the paired target,
  or for unpaired domains made by a known restyle the restyled input (and for ``G_BA``
  the glyph a B image was made from); absent when unknown and for super-resolution;
- ``true_corr``: mean over images of the Pearson correlation of G(x) with T(x) (same
  availability as ``true_l1``): near 1 for a correct translation, near 0 for a constant
  output, negative for one that swaps the two grey levels of T(x) (colour inversion);
- paired data: ``psnr``, ``ssim`` to the target (torchmetrics, [0, 1] range), and for SR
  ``psnr_bicubic``, ``ssim_bicubic`` of bicubic upsampling;
- CycleGAN: ``cycle_l1`` = mean |F(G(x)) - x| and ``cycle_l1_requantised``, the same after
  G(x) is blurred (Gaussian, sigma 0.5 px) and rounded to 8 bits, as a saved image would be:
  a cycle that survives only unrounded fakes hides x in an imperceptible signal;
  ``cycle_l1_halfres``, the same after G(x) is saved at half resolution (2x2 means) and
  8 bits and read back (nearest upsampling): a cycle that needs G(x)'s single-pixel
  structure rebuilds x from a signal finer than what the translation shows;
  ``halfres_change`` = mean |saved(G(x)) - G(x)|, how much that save changes the translated
  image itself (the steganography label reads the cycle error's growth per unit of it).

These are outcomes (what the final model does), for the failure labels of the benchmark;
the detectors read the probe signals, never these.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.images import grid_png
from gandiag.monitor.translation import half_resolution_save
from gandiag.types import MetricResult

#: columns of the triplet grid
COLUMNS = 8


@torch.no_grad()
def _run(net: nn.Module, x: Tensor) -> Tensor:
    was = net.training
    net.eval()
    try:
        return torch.cat([net(c).float() for c in x.split(250)])
    finally:
        net.train(was)


def _as_output(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)


def halfres_quantise(x: Tensor) -> Tensor:
    """``x`` at half resolution (2x2 means), rounded to 8 bits, read back at full size (the
    translation probe's ``halfres_gain`` applies the same save)."""
    return half_resolution_save(x)


def blur_quantise(x: Tensor, sigma: float = 0.5) -> Tensor:
    """Gaussian blur (5x5, ``sigma`` px) then rounding to 8 bits, in [-1, 1] units."""
    r = torch.arange(-2, 3, dtype=torch.float32, device=x.device)
    k1 = torch.exp(-(r**2) / (2 * sigma**2))
    k = (k1[:, None] * k1[None, :]) / k1.sum() ** 2
    c = x.shape[1]
    y = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k.expand(c, 1, 5, 5), groups=c)
    return torch.round((y.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def image_corr(a: Tensor, b: Tensor) -> float:
    """Mean over images of the Pearson correlation of ``a[i]`` and ``b[i]`` (all pixels);
    images either of which is constant have none and are left out (NaN if all are)."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    den = a.norm(dim=1) * b.norm(dim=1)
    ok = den > 1e-8
    if not ok.any():
        return float("nan")
    return float(((a * b).sum(1)[ok] / den[ok]).mean())


@torch.no_grad()
def evaluate_translation(
    bundle: Any, held: Any, metrics: list[str], step: int
) -> tuple[dict[str, float], list[MetricResult]]:
    """``(eval scalars, metric results)`` of every generator of ``bundle`` on ``held``."""
    truth_x = held.y if held.paired else getattr(held, "truth_x", None)
    first = next(iter(bundle.generators))
    # (generator, its inputs, the reals of its output domain, the inputs' classes, those
    # reals' classes, the correct translations where known)
    directions = [(first, held.x, held.y, held.labels_x, held.labels_y, truth_x)]
    back = bundle.inverses.get(first)
    if back is not None:  # the inverse generator, evaluated the other way
        truth_y = getattr(held, "truth_y", None)
        directions.append((back, held.y, held.x, held.labels_y, held.labels_x, truth_y))
    scalars: dict[str, float] = {}
    results: list[MetricResult] = []
    clf = _classifier(held.x.device)
    for name, src, dst, labels, dst_labels, truth in directions:
        net = bundle.generators[name]
        out = _run(net, src)
        ref = _as_output(src, (int(out.shape[-2]), int(out.shape[-1])))
        s = {
            "input_l1": float((out - ref).abs().mean()),
            "background": float(out.median()),
        }
        if truth is not None and held.task != "super_resolution":
            s["true_l1"] = float((out - truth).abs().mean())
            s["true_corr"] = image_corr(out, truth)
        if clf is not None and out.shape[1] == 1 and out.shape[-1] == 28:
            pred = torch.cat([clf.logits(c.clamp(-1, 1)).argmax(1) for c in out.split(500)])
            s["class_kept"] = float((pred == labels).float().mean())
            neg = torch.cat([clf.logits(-c.clamp(-1, 1)).argmax(1) for c in out.split(500)])
            s["class_kept_inverted"] = float((neg == labels).float().mean())
            real = torch.cat([clf.logits(c).argmax(1) for c in dst.split(500)])
            s["target_class_acc"] = float((real == dst_labels).float().mean())
            share = torch.bincount(pred, minlength=10).float() / len(pred)
            s["classes_covered"] = float((share >= 0.01).sum())
            seen = share[share > 0]
            s["classes_effective"] = float(torch.exp(-(seen * seen.log()).sum()))
        if held.paired:
            s.update(_psnr_ssim(out, dst, ""))
            if held.task == "super_resolution":
                s.update(_psnr_ssim(ref, dst, "_bicubic"))
        inv = bundle.inverse(name)
        if inv is not None:
            s["cycle_l1"] = float((_run(inv, out) - src).abs().mean())
            s["cycle_l1_requantised"] = float((_run(inv, blur_quantise(out)) - src).abs().mean())
            saved = halfres_quantise(out)
            s["cycle_l1_halfres"] = float((_run(inv, saved) - src).abs().mean())
            s["halfres_change"] = float((saved - out).abs().mean())
        for r in _fid_kid(out, dst, metrics, step):
            s[r.name] = float(r.value)
            results.append(dataclasses.replace(r, name=f"{name}_{r.name}"))
        scalars.update({f"eval/{name}_{k}": v for k, v in s.items() if np.isfinite(v)})
    return scalars, results


def _psnr_ssim(out: Tensor, target: Tensor, suffix: str) -> dict[str, float]:
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    a, b = (out.clamp(-1, 1) + 1) / 2, (target + 1) / 2
    return {
        f"psnr{suffix}": float(peak_signal_noise_ratio(a, b, data_range=1.0)),
        # a tensor: the tuple form comes only with return_full_image=True
        f"ssim{suffix}": float(
            cast(Tensor, structural_similarity_index_measure(a, b, data_range=1.0))
        ),
    }


def _classifier(device: torch.device) -> Any:
    try:
        from gandiag.features import load_glyph_classifier

        return load_glyph_classifier(device=device)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        warnings.warn(f"class preservation skipped: {exc}", RuntimeWarning, stacklevel=3)
        return None


def _fid_kid(out: Tensor, real: Tensor, metrics: list[str], step: int) -> list[MetricResult]:
    wanted = tuple(m for m in metrics if m in ("fid", "kid"))
    if not wanted or out.shape[1] != 1 or out.shape[-1] != 28:
        return []
    from gandiag.evaluate import evaluate
    from gandiag.train.evaluation import kid_subset_size

    n = min(len(out), len(real))
    try:
        res = evaluate(
            real[:n].cpu(),
            out[:n].clamp(-1, 1).cpu(),
            metrics=wanted,
            extractor="glyph",
            kid_subset_size=kid_subset_size(n),
            # bootstrap intervals, as the image GANs' evaluation carries: a comparison of two
            # runs then says whether their difference is beyond the held-out set's noise
        )
    except (ValueError, RuntimeError) as exc:
        warnings.warn(f"FID/KID skipped at step {step}: {exc}", RuntimeWarning, stacklevel=3)
        return []
    return [dataclasses.replace(r, step=step) for r in res.values()]


@torch.no_grad()
def triplet_grid(bundle: Any, held: Any, n: int = COLUMNS * 2) -> bytes:
    """PNG: rows of inputs, outputs and (CycleGAN) reconstructions or (paired) targets.

    CycleGAN shows A -> G_AB(A) -> G_BA(G_AB(A)) then B -> G_BA(B) -> G_AB(G_BA(B));
    pix2pix and SRGAN show input (upsampled, nearest, for SR) -> output -> target.
    """
    rows: list[np.ndarray] = []
    size = tuple(held.y.shape[-2:])
    first = next(iter(bundle.generators))
    g_back = bundle.inverse(first)
    if g_back is not None:
        g = bundle.generators[first]
        for src, fwd, back in ((held.x[:n], g, g_back), (held.y[:n], g_back, g)):
            out = _run(fwd, src)
            rows += _interleave([src, out, _run(back, out)])
    else:
        src = held.x[:n]
        shown = src if tuple(src.shape[-2:]) == size else F.interpolate(src, size=size)
        rows += _interleave([shown, _run(bundle.generator, src), held.y[:n]])
    return grid_png(np.concatenate(rows), nrow=COLUMNS, min_size=256)


def _interleave(parts: list[Tensor]) -> list[np.ndarray]:
    """Blocks of ``COLUMNS`` items: one row of each part in turn (input, output, ...)."""
    arrs = [p.detach().float().cpu().numpy() for p in parts]
    rows = []
    for start in range(0, len(arrs[0]) - COLUMNS + 1, COLUMNS):
        rows += [a[start : start + COLUMNS] for a in arrs]
    return rows
