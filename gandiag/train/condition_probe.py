"""Does a class-conditional generator follow its condition? Variance shares, no classifier.

The probe draws ``per_class`` fixed latents and generates each of them under each of up to
``max_classes`` classes (a crossed design: the same ``z`` under every class). Two-way
analysis of variance of the pixels then splits what varies into the condition's main
effect, the noise's main effect and their interaction, and

    epsilon^2_cond = (SS_cond - (K - 1) * MS_interaction) / SS_total

estimates the share of the samples' variance the requested class explains (Okada's
epsilon-squared; the interaction's mean square removes the chance part, so a generator that
ignores its condition scores 0 on average, not (K - 1) / N). The data's share comes from the
same estimate on a fixed set of labelled reals (one-way: between-class over total). A
generator that follows its condition as the data does has a share near the data's; one that
ignores it, near 0.

With a conditional discriminator (``D(x, y)``) the probe also scores the same reals under
their own and under another class: the mean logit gap says whether D still checks the
condition (a matching-aware D rejects a real with a wrong class), which tells the two causes
of an ignored condition apart.

The same samples say whether the generator collapsed within a class (one image per class,
whatever ``z``): ``cond/within_class_spread`` is their pooled within-class variance over the
reals' (1: as varied as the data within a class; 0: ``z`` changes nothing). A batch mixes
classes, so the batch-level diversity signals do not see such a collapse.

Signals: ``cond/variance_share``, ``cond/variance_share_real``,
``cond/within_class_spread`` and, with a conditional D, ``cond/d_match_gap``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gandiag import signals as S
from gandiag.monitor.probes import probing


def one_way_share(x: Tensor, labels: Tensor) -> float:
    """Epsilon-squared of a one-way layout: share of ``x``'s variance its groups explain."""
    flat = x.flatten(1).double()
    groups = labels.unique()
    n, k = len(flat), len(groups)
    if k < 2 or n <= k:
        raise ValueError(f"one_way_share needs >= 2 groups and more items than groups, got {k}/{n}")
    grand = flat.mean(0)
    ss_total = float((flat - grand).pow(2).sum())
    ss_between = sum(
        float((labels == g).sum()) * float((flat[labels == g].mean(0) - grand).pow(2).sum())
        for g in groups
    )
    ms_within = (ss_total - ss_between) / (n - k)
    return (ss_between - (k - 1) * ms_within) / max(ss_total, 1e-300)


def crossed_share(x: Tensor) -> float:
    """Epsilon-squared of the row factor of a crossed layout ``[K rows, M columns, ...]``.

    Rows are classes, columns latents: the share of the variance the class explains, with
    the interaction's mean square as the error term.
    """
    k, m = x.shape[:2]
    if k < 2 or m < 2:
        raise ValueError(f"crossed_share needs >= 2 classes and >= 2 latents, got {k}x{m}")
    flat = x.reshape(k, m, -1).double()
    grand = flat.mean((0, 1))
    ss_total = float((flat - grand).pow(2).sum())
    ss_rows = m * float((flat.mean(1) - grand).pow(2).sum())
    ss_cols = k * float((flat.mean(0) - grand).pow(2).sum())
    ms_inter = (ss_total - ss_rows - ss_cols) / ((k - 1) * (m - 1))
    return (ss_rows - (k - 1) * ms_inter) / max(ss_total, 1e-300)


def within_class_variance(x: Tensor, labels: Tensor) -> float:
    """Pooled within-group variance per item, summed over features: SS_within / (N - K)."""
    flat = x.flatten(1).double()
    groups = labels.unique()
    ss = sum(float((flat[labels == g] - flat[labels == g].mean(0)).pow(2).sum()) for g in groups)
    return ss / max(len(flat) - len(groups), 1)


class ConditionProbe:
    """The condition's share of sample variance, for the generator and for the data."""

    def __init__(
        self,
        real: Tensor,
        labels: Tensor,
        num_classes: int,
        latent_dim: int,
        device: torch.device,
        seed: int = 0,
        per_class: int = 16,
        max_classes: int = 10,
        d_reals: int = 64,
    ) -> None:
        if per_class < 2:
            raise ValueError(f"per_class must be >= 2, got {per_class}")
        rng = torch.Generator().manual_seed(seed)
        k = min(int(num_classes), int(max_classes))
        # a fixed subset of classes when there are many; all of them for a few
        self.classes = torch.randperm(int(num_classes), generator=rng)[:k].sort().values
        self.z = torch.randn(per_class, latent_dim, generator=rng).to(device)
        self.real_share = one_way_share(real, labels.long())
        self.real_within = within_class_variance(real, labels.long())
        # D's logit gap is read on the first reals only: a forward of D per probe
        self.real = real[:d_reals].to(device)
        self.labels = labels[:d_reals].long().to(device)
        self.num_classes, self.device = int(num_classes), device

    def __call__(
        self, generator: nn.Module, discriminator: nn.Module | None = None
    ) -> dict[str, float]:
        """Signals of ``generator(z, y)`` (and of ``discriminator(x, y)`` when given)."""
        k, m = len(self.classes), len(self.z)
        y = self.classes.to(self.device).repeat_interleave(m)
        z = self.z.repeat(k, 1)
        modules = [generator] + ([discriminator] if discriminator is not None else [])
        with probing(modules, self.device):
            fake = generator(z, y).float()
            out = {
                S.COND_VARIANCE_SHARE: crossed_share(fake.reshape(k, m, *fake.shape[1:])),
                S.COND_VARIANCE_SHARE_REAL: self.real_share,
                S.COND_WITHIN_CLASS_SPREAD: within_class_variance(fake, y)
                / max(self.real_within, 1e-300),
            }
            if discriminator is not None:
                n = self.num_classes  # each real under another class, all others in turn
                shift = torch.arange(len(self.labels), device=self.device) % (n - 1) + 1
                wrong = (self.labels + shift) % n
                right = discriminator(self.real, self.labels).float().mean()
                out[S.COND_D_MATCH_GAP] = float(right - discriminator(self.real, wrong).mean())
        return out
