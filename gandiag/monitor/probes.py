"""Statistics of one step's tensors, computed on the device as sums plus a host-side finaliser.

Each function returns ``(sums, finalise)`` or ``(sums, finalise, consts)`` for
:class:`~gandiag.monitor.buffer.StatBuffer`: ``sums`` is a 1-D tensor whose entries add
up meaningfully across ranks, ``consts`` numbers the host knows that do too (element
counts), and ``finalise(reduced, world)`` turns the reduced constants followed by the
sums into named scalars. Nothing here syncs with the host.

The three that run every step (losses, D's outputs, each discriminator's outputs) are
written for few operations: on a GPU a small model's step is bound by kernel launches, so
each operation the Monitor adds costs about as much as one of the model's. Their sums
stay in float32, the precision they are summed in (the buffer casts a flush's worth at
once), and element counts travel as constants rather than as device tensors.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from gandiag import signals

Stat = (
    tuple[torch.Tensor, Callable[[np.ndarray, int], Mapping[str, float]]]
    | tuple[torch.Tensor, Callable[[np.ndarray, int], Mapping[str, float]], tuple[float, ...]]
)


def loss_stats(names: list[str], values: list[torch.Tensor]) -> Stat:
    """Each loss term (mean across ranks) and the number of terms that are not finite (on
    any rank: a non-finite term keeps the sum across ranks non-finite)."""
    sums = torch.stack([v.detach().reshape(()) for v in values])
    keys = [signals.loss(n) for n in names]

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        out = {key: float(v[i]) / world for i, key in enumerate(keys)}
        out[signals.LOSS_NONFINITE] = float(np.sum(~np.isfinite(v[: len(keys)])))
        return out

    return sums, finalise


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.detach().reshape(-1).float()


def _sums_and_squares(xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """``[sum x_0, ..., sum x_k, sum x_0^2, ..., sum x_k^2]`` as 0-d tensors."""
    return [x.sum() for x in xs] + [(x * x).sum() for x in xs]


def d_output_stats(
    d_real: torch.Tensor, d_fake: torch.Tensor, d_val: torch.Tensor | None, probabilities: bool
) -> Stat:
    """Moments of D's raw outputs on real/fake (and held-out real), sigmoid means, r_t, r_v."""
    r, f = _flat(d_real), _flat(d_fake)
    xs = [r, f] if d_val is None else [r, f, _flat(d_val)]
    k = len(xs)
    parts = _sums_and_squares(xs) + [torch.sign(r).sum()]
    if probabilities:
        parts += [torch.sigmoid(r).sum(), torch.sigmoid(f).sum()]
    counts = tuple(float(x.numel()) for x in xs)

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        n, s, ss = v[:k], v[k : 2 * k], v[2 * k : 3 * k]
        real_mean, real_std = _mean_std(n[0], s[0], ss[0])
        fake_mean, fake_std = _mean_std(n[1], s[1], ss[1])
        out = {
            signals.D_REAL_RAW_MEAN: real_mean,
            signals.D_REAL_RAW_STD: real_std,
            signals.D_FAKE_RAW_MEAN: fake_mean,
            signals.D_FAKE_RAW_STD: fake_std,
            signals.D_RT: _div(v[3 * k], n[0]),
        }
        if probabilities:
            out[signals.D_REAL_PROB_MEAN] = _div(v[3 * k + 1], n[0])
            out[signals.D_FAKE_PROB_MEAN] = _div(v[3 * k + 2], n[1])
        if k == 3:
            val_mean, _ = _mean_std(n[2], s[2], ss[2])
            out[signals.D_VAL_RAW_MEAN] = val_mean
            out[signals.D_RV] = _div(real_mean - val_mean, real_mean - fake_mean)
        return out

    return torch.stack(parts), finalise, counts


def d_net_stats(name: str, d_real: torch.Tensor, d_fake: torch.Tensor, probabilities: bool) -> Stat:
    """One discriminator's raw-output mean and std (and sigmoid means) on real and fake."""
    r, f = _flat(d_real), _flat(d_fake)
    parts = _sums_and_squares([r, f])
    if probabilities:
        parts += [torch.sigmoid(r).sum(), torch.sigmoid(f).sum()]
    counts = (float(r.numel()), float(f.numel()))

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, which in enumerate(("real", "fake")):
            mean, std = _mean_std(v[i], v[2 + i], v[4 + i])
            out[signals.d_net(name, which, "raw_mean")] = mean
            out[signals.d_net(name, which, "raw_std")] = std
        if probabilities:
            out[signals.d_net(name, "real", "prob_mean")] = _div(v[6], v[0])
            out[signals.d_net(name, "fake", "prob_mean")] = _div(v[7], v[1])
        return out

    return torch.stack(parts), finalise, counts


def sample_stats(real: torch.Tensor, fake: torch.Tensor, max_n: int, dup_threshold: float) -> Stat:
    """Spread of fakes relative to reals in the batch, and the near-duplicate rate of fakes.

    A fake is a near-duplicate when another fake lies closer than ``dup_threshold``
    times the mean pairwise distance between the reals.
    """
    x = real.detach()[:max_n].reshape(min(real.shape[0], max_n), -1).float()
    y = fake.detach()[:max_n].reshape(min(fake.shape[0], max_n), -1).float()
    std_r = x.std(0).mean()
    std_f = y.std(0).mean()
    pd_r = torch.pdist(x).mean()
    dist_f = torch.cdist(y, y)
    n = dist_f.shape[0]
    iu = torch.triu_indices(n, n, 1, device=dist_f.device)
    pd_f = dist_f[iu[0], iu[1]].mean()
    dist_f = dist_f + torch.diag(torch.full((n,), math.inf, device=dist_f.device))
    nn_f = dist_f.min(1).values
    dup = (nn_f < dup_threshold * pd_r).double().mean()
    sums = torch.stack([std_f, std_r, pd_f, pd_r]).double()
    sums = torch.cat([sums, dup.reshape(1)])

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        return {
            signals.SAMPLES_STD_RATIO: _div(v[0], v[1]),
            signals.SAMPLES_PDIST_RATIO: _div(v[2], v[3]),
            signals.SAMPLES_DUP_RATE: float(v[4]) / world,
        }

    return sums, finalise


def sensitivity(
    fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, delta: torch.Tensor, name: str
) -> Stat:
    """E ||fn(z + delta) - fn(z)|| / ||delta|| over the probe batch (one batched forward)."""
    n = z.shape[0]
    out = fn(torch.cat([z, z + delta]))
    out = out.detach().reshape(2 * n, -1).float()
    ratio = torch.linalg.vector_norm(out[n:] - out[:n], dim=1) / torch.linalg.vector_norm(
        delta.reshape(n, -1).float(), dim=1
    )
    sums = ratio.mean().reshape(1).double()
    return sums, lambda v, world: {name: float(v[0]) / world}


def vae_stats(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    inputs: torch.Tensor,
    recon: torch.Tensor,
    per_dim: bool,
) -> Stat:
    """Summed squared reconstruction error (mean over the batch) and KL, total and per dim."""
    mu_d, lv = mu.detach().float(), logvar.detach().float()
    kl_dim = (0.5 * (mu_d.pow(2) + lv.exp() - 1.0 - lv)).mean(0)
    err = (inputs.detach().float() - recon.detach().float()).reshape(inputs.shape[0], -1)
    rec = err.pow(2).sum(1).mean()
    sums = torch.cat([rec.reshape(1), kl_dim]).double()

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        v = v / world
        out = {signals.VAE_RECON: float(v[0]), signals.VAE_KL: float(np.sum(v[1:]))}
        if per_dim:
            for j, kl in enumerate(v[1:]):
                out[signals.vae_kl_dim(j)] = float(kl)
        return out

    return sums, finalise


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> Stat:
    """AU = #{j : Var_x(mu_j) > threshold} (Burda et al. 2016) over a batch of posterior means."""
    var = mu.detach().float().var(0)
    dims = var.new_full((), float(var.numel()), dtype=torch.float64)
    sums = torch.stack([(var > threshold).double().sum(), dims])

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        units, dims = float(v[0]) / world, float(v[1]) / world
        return {signals.VAE_ACTIVE_UNITS: units, signals.VAE_ACTIVE_FRACTION: _div(units, dims)}

    return sums, finalise


@contextlib.contextmanager
def rng_untouched(device: torch.device) -> Iterator[None]:
    """The global torch RNG (the CPU's, and ``device``'s on CUDA) as it was before the
    block. Probes run inside it, and the training loops run their evaluations and grids
    inside it, so what they draw (a stochastic layer, a metric's feature network built
    with random weights before its own are loaded) cannot move the training's random
    numbers: a run's trajectory does not depend on how often or what it probes and
    evaluates."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        yield


@contextlib.contextmanager
def probing(modules: list[nn.Module], device: torch.device) -> Iterator[None]:
    """Run a probe forward that leaves training untouched.

    Eval mode (no BatchNorm running-stat or spectral-norm power-iteration updates),
    no autograd, and a forked RNG so a stochastic layer cannot consume the caller's
    random numbers; every submodule's own train/eval flag is restored afterwards.
    """
    modes = [(m, m.training) for mod in modules for m in mod.modules()]
    try:
        with rng_untouched(device), torch.no_grad():
            for mod in modules:
                mod.eval()
            yield
    finally:
        for m, was_training in modes:
            m.training = was_training


def _mean_std(n: float, s: float, ss: float) -> tuple[float, float]:
    """Mean and sample standard deviation from a count, a sum and a sum of squares."""
    n, s, ss = float(n), float(s), float(ss)
    if n == 0:
        return math.nan, math.nan
    mean = s / n
    if n < 2:
        return mean, math.nan
    var = max(ss - n * mean * mean, 0.0) / (n - 1)
    return mean, math.sqrt(var) if math.isfinite(var) else math.nan


def _div(a: float, b: float) -> float:
    a, b = float(a), float(b)
    if b == 0 or not math.isfinite(b):
        return math.nan
    return a / b
