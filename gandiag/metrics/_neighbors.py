"""Exact k-nearest-neighbour radii and ball-membership tests without N x N matrices.

Distances are computed block by block as float32 matrix products on the chosen torch
device (fast), each with a rigorous bound on its rounding error. Only comparisons that
fall inside that error band (near-ties) are recomputed in float64 from the coordinates,
so every decision equals the one float64 arithmetic would make, while memory stays
O(block^2 + N*k) instead of prdc's three dense N x N matrices.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

_U32 = 2.0**-24  # unit roundoff of float32
_U_TF32 = 2.0**-11  # TensorFloat-32 matmuls (Ampere+ GPUs with matmul precision "high")
DEFAULT_BLOCK = 2048
_EXTRA_CANDIDATES = 8  # neighbours kept beyond k, so float32 ranking errors stay recoverable


@dataclass
class PreparedSet:
    """One feature set, centred (distances are translation invariant; centring shrinks norms
    and with them the float32 error bound), as float64 numpy and float32 torch."""

    x64: np.ndarray
    x32: torch.Tensor
    sq64: np.ndarray  # squared norms, float64
    sq32: torch.Tensor  # the same, float32 on the device

    @property
    def n(self) -> int:
        return int(self.x64.shape[0])


def prepare(x: np.ndarray, center: np.ndarray, device: torch.device) -> PreparedSet:
    xc = x - center
    sq = np.einsum("ij,ij->i", xc, xc)
    return PreparedSet(
        x64=xc,
        x32=torch.from_numpy(xc.astype(np.float32)).to(device),
        sq64=sq,
        sq32=torch.from_numpy(sq.astype(np.float32)).to(device),
    )


def error_factor(dim: int, device: torch.device) -> float:
    """c such that |fl32(d^2) - d^2| <= c * (|x|^2 + |y|^2) for d^2 = |x|^2 + |y|^2 - 2 x.y.

    From the standard dot-product bound |fl(x.y) - x.y| <= gamma_D |x||y| (any summation
    order), 2|x||y| <= |x|^2 + |y|^2, plus the roundings of the norms and the final sum.
    """
    u = _U32
    if device.type == "cuda" and torch.get_float32_matmul_precision() != "highest":
        u = _U_TF32
    gamma = dim * u / (1.0 - dim * u)
    return gamma + 8.0 * _U32


def _blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def block_sq_dists(a: PreparedSet, ia: slice, b: PreparedSet, ib: slice) -> torch.Tensor:
    """float32 squared distances between rows ``ia`` of ``a`` and ``ib`` of ``b``."""
    d2 = torch.addmm(a.sq32[ia, None] + b.sq32[None, ib], a.x32[ia], b.x32[ib].T, alpha=-2.0)
    return d2.clamp_(min=0.0)


def exact_sq_dists(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """float64 squared distances of the pairs ``(a[ia[t]], b[ib[t]])``, from coordinates."""
    out = np.empty(len(ia))
    step = max(1, 2_000_000 // max(1, a.shape[1]))
    for s in range(0, len(ia), step):
        diff = a[ia[s : s + step]] - b[ib[s : s + step]]
        out[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    return out


def knn_sq_radii(x: PreparedSet, k: int, *, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Exact squared distance from each point to its k-th nearest other point (float64).

    Each off-diagonal block is computed once and used for both its rows and columns
    (the distance matrix is symmetric), which halves the products.
    """
    n = x.n
    if n <= k:
        raise ValueError(f"need more than k={k} samples for k-nearest-neighbour radii, got {n}")
    m = min(k + _EXTRA_CANDIDATES, n - 1)
    dev = x.x32.device
    best_v = torch.full((n, m), float("inf"), device=dev)
    best_i = torch.zeros((n, m), dtype=torch.long, device=dev)

    def merge(rows: slice, vals: torch.Tensor, cols_start: int) -> None:
        kk = min(m, vals.shape[1])
        v, i = torch.topk(vals, kk, dim=1, largest=False)
        cat_v = torch.cat([best_v[rows], v], dim=1)
        cat_i = torch.cat([best_i[rows], i + cols_start], dim=1)
        v2, pos = torch.topk(cat_v, m, dim=1, largest=False)
        best_v[rows], best_i[rows] = v2, torch.gather(cat_i, 1, pos)

    for bi in _blocks(n, block):
        for bj in _blocks(n, block):
            if bj.start < bi.start:
                continue
            d2 = block_sq_dists(x, bi, x, bj)
            if bj.start == bi.start:
                d2.fill_diagonal_(float("inf"))
                merge(bi, d2, bj.start)
            else:
                merge(bi, d2, bj.start)
                merge(bj, d2.T, bi.start)

    cand_v = best_v.double().cpu().numpy()
    cand_i = best_i.cpu().numpy()
    tol = error_factor(x.x64.shape[1], dev) * (x.sq64 + x.sq64.max())
    rows = np.arange(n)
    exact = exact_sq_dists(x.x64, np.repeat(rows, m), x.x64, cand_i.ravel()).reshape(n, m)
    radii = np.sort(exact, axis=1)[:, k - 1]
    # A point outside the candidates has float32 d^2 >= the m-th candidate's; if that is not
    # clear of the k-th by twice the error bound, the row's ranking is uncertain: redo it.
    unsure = (cand_v[:, m - 1] - tol <= cand_v[:, k - 1] + tol) & (m < n - 1)
    for i in np.flatnonzero(unsure):
        others = np.delete(rows, i)
        d = exact_sq_dists(x.x64, np.full(n - 1, i), x.x64, others)
        radii[i] = np.partition(d, k - 1)[k - 1]
    return radii


@dataclass
class BallCounts:
    """Per-point results of testing every real-fake pair against a set of radii."""

    any_per_fake: np.ndarray  # [n_fake] bool: inside at least one ball (centred on reals)
    count_per_fake: np.ndarray  # [n_fake] int: number of balls it is inside
    any_per_real: np.ndarray  # [n_real] bool: at least one fake inside this real's ball


def ball_membership(
    real: PreparedSet,
    fake: PreparedSet,
    real_sq_radii: list[np.ndarray],
    fake_sq_radii: list[np.ndarray],
    *,
    inclusive: bool = False,
    block: int = DEFAULT_BLOCK,
) -> tuple[list[BallCounts], list[np.ndarray]]:
    """One pass over real x fake distances, testing ``d < r`` (``<=`` if ``inclusive``).

    For each real radius vector: a :class:`BallCounts` (balls centred on the reals). For each
    fake radius vector: ``[n_real]`` bool, whether a real lies inside some fake's ball.
    """
    dev = real.x32.device
    c = error_factor(real.x64.shape[1], dev)
    r_out = [
        BallCounts(np.zeros(fake.n, bool), np.zeros(fake.n, np.int64), np.zeros(real.n, bool))
        for _ in real_sq_radii
    ]
    f_out = [np.zeros(real.n, bool) for _ in fake_sq_radii]
    r_rad = [torch.from_numpy(r).to(dev) for r in real_sq_radii]
    f_rad = [torch.from_numpy(r).to(dev) for r in fake_sq_radii]
    sq_r = torch.from_numpy(real.sq64).to(dev)
    sq_f = torch.from_numpy(fake.sq64).to(dev)

    def decide(
        d2: torch.Tensor, tol: torch.Tensor, r2: torch.Tensor, bi: slice, bj: slice
    ) -> np.ndarray:
        inside = (d2 + tol) < r2
        unsure = ~inside & ((d2 - tol) <= r2)
        mask = inside.cpu().numpy()
        if bool(unsure.any()):
            ii, jj = (t.cpu().numpy() for t in torch.nonzero(unsure, as_tuple=True))
            exact = exact_sq_dists(real.x64, ii + bi.start, fake.x64, jj + bj.start)
            r2_pairs = np.broadcast_to(r2.cpu().numpy(), mask.shape)[ii, jj]
            mask[ii, jj] = exact <= r2_pairs if inclusive else exact < r2_pairs
        return mask

    for bi in _blocks(real.n, block):
        for bj in _blocks(fake.n, block):
            d2 = block_sq_dists(real, bi, fake, bj).double()
            tol = c * (sq_r[bi, None] + sq_f[None, bj])
            for out, r2 in zip(r_out, r_rad):
                mask = decide(d2, tol, r2[bi, None], bi, bj)
                out.any_per_fake[bj] |= mask.any(axis=0)
                out.count_per_fake[bj] += mask.sum(axis=0)
                out.any_per_real[bi] |= mask.any(axis=1)
            for out_f, r2 in zip(f_out, f_rad):
                out_f[bi] |= decide(d2, tol, r2[None, bj], bi, bj).any(axis=1)
    return r_out, f_out
