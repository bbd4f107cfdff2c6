"""Signals of image-to-image generators, measured on a fixed probe batch of inputs.

:class:`TranslationProbe` holds fixed inputs (and their targets when paired) and, given a
generator (and the inverse generator for CycleGAN), returns scalars to log with
``Monitor.log_scalars``. Forwards run under ``no_grad`` in eval mode (dropout switched on
only for the noise-diversity pair) inside a forked RNG, so probing never changes
training. Names (``NET`` is the generator's name, e.g. ``G_AB``)::

    translation/NET/identity_ratio     mean|G(x) - x| / mean|t - x|: 0 when G returns its input
                                       (t: the paired target, or unpaired reals of the output
                                       domain; x bicubic-upsampled for super-resolution)
    translation/NET/domain_progress    W(G(x), x) / (W(G(x), x) + W(G(x), t)), W the 1-D
                                       Wasserstein distance between pixel-intensity
                                       distributions over the batch: 0 when the outputs keep
                                       the input domain's intensities, 1 when they have the
                                       output domain's (absent for super-resolution, and where
                                       the two domains' intensities differ by under 0.02)
    translation/NET/input_corr         mean over images of Pearson corr(G(x), x): < 0 inverts
    translation/NET/output_diversity   mean pairwise L1 among G(x_i) / among targets
    translation/NET/noise_diversity    mean|G(x; mask 1) - G(x; mask 2)| over two dropout masks /
                                       mean pairwise L1 among G(x_i) (no dropout: absent)
    translation/NET/class_kept         share of G(x) the glyph classifier gives x's class
    translation/NET/class_chance       the largest share of one class among the probe inputs:
                                       the most an output blind to its input can keep (a
                                       constant output read as that class; constant per probe)
    translation/NET/target_class_acc   the classifier's accuracy on the targets themselves (how
                                       legible the output domain is to it; constant per probe)
    translation/NET/class_diversity    effective number of classes (exp of the entropy of the
                                       predicted-class histogram) among G(x) / among the
                                       targets: spread as the classifier reads it, blind to
                                       pixel noise (input-independent noise images differ
                                       pixel by pixel but read as one class)
    translation/NET/classes_out        the effective number of classes among G(x) alone (the
                                       numerator of class_diversity; evidence: "one output
                                       for all" as a count, comparable across probes whose
                                       targets read different numbers of classes)
    translation/NET/target_l1          mean|G(x) - t| (paired data only)
    translation/NET/cycle_l1           mean|F(G(x)) - x| (F the inverse generator)
    translation/NET/cycle_l1_perturbed mean|F(G(x) + d) - x|, d ~ N(0, eps^2), fixed
    translation/NET/noise_gain         (cycle_l1_perturbed - cycle_l1) / mean|clamp(G(x) + d)
                                       - G(x)|: how much F amplifies a small perturbation of
                                       G(x), per unit of the change it makes (steganography)
    translation/NET/cycle_l1_blurred   mean|F(blur(G(x))) - x|, blur Gaussian, sigma 1 px
    translation/NET/blur_gain          (cycle_l1_blurred - cycle_l1) / mean|blur(G(x)) - G(x)|:
                                       how much F amplifies the change a slight blur makes to
                                       G(x); > 1 when F reads structure of G(x) finer than
                                       the blur keeps (steganography)
    translation/NET/cycle_l1_fine_blurred  the same with a finer blur, sigma 0.5 px
    translation/NET/fine_blur_gain     the blur gain with that blur: it changes mostly
                                       single-pixel structure, where a hidden signal lives,
                                       and little of the edges a viewer sees
    translation/NET/cycle_l1_halfres   mean|F(save(G(x))) - x|, save = half resolution (2x2
                                       means), 8 bits, read back at full size (nearest)
    translation/NET/halfres_gain       (cycle_l1_halfres - cycle_l1) / mean|save(G(x)) - G(x)|:
                                       the blur gain's reading with the save that defines the
                                       benchmark's steganography label (evidence; a 1 px blur
                                       passes on less of a weak hidden signal than the save)
    translation/NET/psnr_gain          PSNR(G(x), t) - PSNR(bicubic(x), t) in dB (SR)
    translation/NET/ssim_gain          SSIM(G(x), t) - SSIM(bicubic(x), t) (SR)

``eps`` defaults to 3/255 of the image range (Chu et al. 2017 perturb CycleGAN's fakes
at that scale to expose hidden signals).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from gandiag.features.glyph import GlyphClassifier

PREFIX = "translation"
#: perturbation std of the steganography probe, in [-1, 1] image units (3/255 of the range)
STEGO_EPS = 2.0 * 3.0 / 255.0


def signal(net: str, what: str) -> str:
    """``translation/<net>/<what>``."""
    return f"{PREFIX}/{net}/{what}"


@contextlib.contextmanager
def _probing(*nets: nn.Module) -> Iterator[None]:
    modes = [n.training for n in nets]
    with torch.random.fork_rng(devices=_devices(nets)), torch.no_grad():
        for n in nets:
            n.eval()
        try:
            yield
        finally:
            for n, m in zip(nets, modes):
                n.train(m)


def _devices(nets: tuple[nn.Module, ...]) -> list[int]:
    out = set()
    for n in nets:
        for p in n.parameters():
            if p.is_cuda:
                out.add(p.device.index or 0)
            break
    return sorted(out)


def _pdist_l1(x: Tensor) -> float:
    flat = x.flatten(1).float()
    d = torch.cdist(flat, flat, p=1) / flat.shape[1]
    n = len(flat)
    return float(d.sum() / max(n * (n - 1), 1))


#: Gaussian blur (sigma, px) of the steganography probe: it keeps what a viewer sees of G(x)
#: and removes pixel-scale structure, where a hidden signal lives
STEGO_BLUR = 1.0
#: the finer blur (sigma, px) of the steganography probe: it changes little beyond
#: single-pixel structure, so a signal hidden at that scale carries most of its change
STEGO_FINE_BLUR = 0.5


def gaussian_blur(x: Tensor, sigma: float = STEGO_BLUR) -> Tensor:
    """Per-channel Gaussian blur (kernel radius 3 sigma, edges replicated)."""
    r = max(1, round(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=x.device)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k1 = k1 / k1.sum()
    c = x.shape[1]
    y = F.pad(x.float(), (r, r, r, r), mode="replicate")
    y = F.conv2d(y, k1.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(y, k1.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def half_resolution_save(x: Tensor) -> Tensor:
    """``x`` as saved at half resolution (2x2 means) and 8 bits, read back at full size
    (nearest upsampling), in [-1, 1] units."""
    size = (int(x.shape[-2]), int(x.shape[-1]))
    small = F.interpolate(x, scale_factor=0.5, mode="area")
    back = F.interpolate(small, size=size, mode="nearest")
    return torch.round((back.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


#: quantile levels at which pixel-intensity distributions are compared
_LEVELS = torch.linspace(0.0025, 0.9975, 200)
#: intensity distance (in [-1, 1] units) below which two domains count as alike in intensity
MIN_DOMAIN_GAP = 0.02


def _quantiles(x: Tensor) -> Tensor:
    flat = x.flatten().float()
    if flat.numel() > 1 << 22:  # torch.quantile's input limit; a strided subsample suffices
        flat = flat[:: flat.numel() // (1 << 22) + 1]
    return torch.quantile(flat, _LEVELS.to(flat.device))


def _intensity_w1(qa: Tensor, qb: Tensor) -> float:
    """1-D Wasserstein distance between two pixel-intensity distributions (their quantiles)."""
    return float((qa - qb).abs().mean())


def _corr(a: Tensor, b: Tensor) -> float:
    a, b = a.flatten(1).float(), b.flatten(1).float()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    num = (a * b).sum(1)
    den = a.norm(dim=1) * b.norm(dim=1)
    ok = den > 1e-8
    if not ok.any():
        return float("nan")
    return float((num[ok] / den[ok]).mean())


class TranslationProbe:
    """Fixed probe inputs for one generator and the signals it yields.

    ``inputs``: ``[N, C, h, w]`` in [-1, 1]; ``targets``: the paired outputs ``[N, C, H, W]``
    or, unpaired, ``N`` reals of the output domain; ``labels``: the inputs' glyph classes
    (class preservation; ``None`` skips it); ``super_resolution``: compare with bicubic
    upsampling of the inputs.
    """

    def __init__(
        self,
        inputs: Tensor,
        targets: Tensor,
        *,
        paired: bool,
        labels: Tensor | None = None,
        target_labels: Tensor | None = None,
        super_resolution: bool = False,
        eps: float = STEGO_EPS,
        seed: int = 0,
    ) -> None:
        if len(inputs) < 2 or len(targets) < 2:
            raise ValueError("the translation probe needs at least 2 inputs and 2 targets")
        self.x, self.t = inputs.float(), targets.float()
        self.paired, self.sr, self.labels = paired, super_resolution, labels
        self.target_labels = labels if paired and target_labels is None else target_labels
        self._target_pred: Tensor | None = None
        self.x_ref = self._as_output(self.x)
        n = min(len(self.x), len(self.t))
        self.ref_l1 = float((self.t[:n] - self.x_ref[:n]).abs().mean())
        self.target_pdist = _pdist_l1(self.t)
        self.q_in, self.q_target = _quantiles(self.x_ref), _quantiles(self.t)
        self.domain_gap = _intensity_w1(self.q_in, self.q_target)
        gen = torch.Generator(device="cpu").manual_seed(int(seed) * 7919 + 3)
        self.delta = (eps * torch.randn(self.t[:1].shape[1:], generator=gen)).to(self.x.device)
        self._classifier: GlyphClassifier | None = None
        self._classifier_failed = labels is None

    def _as_output(self, x: Tensor) -> Tensor:
        size = self.t.shape[-2:]
        if x.shape[-2:] == size:
            return x
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)

    def signals(
        self, name: str, net: nn.Module, inverse: nn.Module | None = None
    ) -> dict[str, float]:
        """Scalars of generator ``net`` (named ``name``); ``inverse`` adds the cycle signals."""
        nets = (net,) if inverse is None else (net, inverse)
        out: dict[str, float] = {}
        with _probing(*nets):
            y = net(self.x).float()
            diff = (y - self.x_ref).abs().mean()
            out[signal(name, "identity_ratio")] = float(diff) / max(self.ref_l1, 1e-8)
            if not self.sr and self.domain_gap >= MIN_DOMAIN_GAP:
                q = _quantiles(y)
                to_in, to_target = _intensity_w1(q, self.q_in), _intensity_w1(q, self.q_target)
                out[signal(name, "domain_progress")] = to_in / max(to_in + to_target, 1e-8)
            out[signal(name, "input_corr")] = _corr(y, self.x_ref)
            spread = _pdist_l1(y)
            out[signal(name, "output_diversity")] = spread / max(self.target_pdist, 1e-8)
            if self.paired:
                out[signal(name, "target_l1")] = float((y - self.t).abs().mean())
            if any(isinstance(m, nn.Dropout) for m in net.modules()):
                out[signal(name, "noise_diversity")] = self._noise_diversity(net, spread)
            if inverse is not None:
                out.update(self._cycle(name, y, inverse))
            if self.sr:
                out.update(self._sr_gain(name, y))
            pred = self._classify(y) if self.labels is not None else None
            if pred is not None and self.labels is not None:
                labels = self.labels.to(pred.device)
                out[signal(name, "class_kept")] = float((pred == labels).float().mean())
                out[signal(name, "class_chance")] = _largest_share(labels)
                if self._target_pred is None:
                    self._target_pred = self._classify(self.t)
                t_pred = self._target_pred
                if t_pred is not None and self.target_labels is not None:
                    hit = t_pred == self.target_labels.to(t_pred.device)
                    out[signal(name, "target_class_acc")] = float(hit.float().mean())
                classes_out = _effective_classes(pred)
                out[signal(name, "classes_out")] = classes_out
                if t_pred is not None:
                    spread = classes_out / _effective_classes(t_pred)
                    out[signal(name, "class_diversity")] = spread
        return out

    def _noise_diversity(self, net: nn.Module, spread: float) -> float:
        drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
        for m in drops:
            m.train()
        try:
            torch.manual_seed(1)
            a = net(self.x).float()
            torch.manual_seed(2)
            b = net(self.x).float()
        finally:
            for m in drops:
                m.eval()
        return float((a - b).abs().mean()) / max(spread, 1e-8)

    def _cycle(self, name: str, y: Tensor, inverse: nn.Module) -> dict[str, float]:
        def cycle_l1(image: Tensor) -> float:
            return float((inverse(image).float() - self.x).abs().mean())

        clean = cycle_l1(y)
        out = {signal(name, "cycle_l1"): clean}
        # each perturbation's cycle error, and its gain per unit of the change G(x) actually
        # receives: clamping at the range's ends (a glyph's dark background sits at -1)
        # removes part of the noise
        for error, gain, perturbed in (
            ("cycle_l1_perturbed", "noise_gain", (y + self.delta).clamp(-1, 1)),
            ("cycle_l1_blurred", "blur_gain", gaussian_blur(y)),
            ("cycle_l1_fine_blurred", "fine_blur_gain", gaussian_blur(y, STEGO_FINE_BLUR)),
            ("cycle_l1_halfres", "halfres_gain", half_resolution_save(y)),
        ):
            err = cycle_l1(perturbed)
            change = float((perturbed - y).abs().mean())
            out[signal(name, error)] = err
            out[signal(name, gain)] = (err - clean) / max(change, 1e-8)
        return out

    def _sr_gain(self, name: str, y: Tensor) -> dict[str, float]:
        from torchmetrics.functional.image import (
            peak_signal_noise_ratio,
            structural_similarity_index_measure,
        )

        def unit(v: Tensor) -> Tensor:
            return ((v.clamp(-1, 1) + 1) / 2).float()

        t, g, b = unit(self.t), unit(y), unit(self.x_ref)
        psnr = [float(peak_signal_noise_ratio(v, t, data_range=1.0)) for v in (g, b)]
        # a tensor: the tuple form comes only with return_full_image=True
        ssim = [
            float(cast(Tensor, structural_similarity_index_measure(v, t, data_range=1.0)))
            for v in (g, b)
        ]
        return {
            signal(name, "psnr_gain"): psnr[0] - psnr[1],
            signal(name, "ssim_gain"): ssim[0] - ssim[1],
        }

    def _classify(self, y: Tensor) -> Tensor | None:
        """The glyph classifier's predicted class of each image (``None`` where it cannot read
        them: not 1 x 28 x 28, or no classifier)."""
        if self._classifier_failed or y.shape[1] != 1 or y.shape[-1] != 28:
            return None
        if self._classifier is None:
            try:
                from gandiag.features import load_glyph_classifier

                self._classifier = load_glyph_classifier(device=y.device)
            except (FileNotFoundError, ValueError, RuntimeError) as exc:
                self._classifier_failed = True
                warnings.warn(
                    f"class preservation skipped: glyph classifier unavailable ({exc})",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return None
        if self._classifier is None:
            return None
        return self._classifier.logits(y.clamp(-1, 1)).argmax(1)


def _largest_share(labels: Tensor) -> float:
    """Share of the most frequent class in ``labels``."""
    counts = torch.bincount(labels.flatten().long())
    return float(counts.max()) / max(labels.numel(), 1)


def _effective_classes(pred: Tensor) -> float:
    """exp(entropy) of the class histogram of ``pred``: 1 for one class, k for k equal ones."""
    p = torch.bincount(pred.flatten().long()).float()
    p = p[p > 0] / p.sum()
    return float(torch.exp(-(p * p.log()).sum()))
