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
DEFAULT_BLOCK = 1024
_EXTRA_CANDIDATES = 8  # neighbours kept beyond k, so float32 ranking errors stay recoverable


@dataclass
class PreparedSet:
    """One feature set: its original coordinates (float32 or float64, for the exact
    float64 rechecks) and a centred float32 copy on the device (distances are translation
    invariant; centring shrinks the norms and with them the float32 error bound)."""

    x: np.ndarray
    x32: torch.Tensor
    sq64: np.ndarray  # squared norms of the centred float32 points, in float64
    sq32: torch.Tensor  # the same, float32 on the device

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def prepare(
    x: np.ndarray, center: np.ndarray, device: torch.device, chunk: int = 4096
) -> PreparedSet:
    x32 = np.empty(x.shape, dtype=np.float32)
    for s in range(0, x.shape[0], chunk):  # chunked: no full float64 copy of the set
        x32[s : s + chunk] = x[s : s + chunk] - center
    sq = np.einsum("ij,ij->i", x32, x32, dtype=np.float64)
    return PreparedSet(
        x=x,
        x32=torch.from_numpy(x32).to(device),
        sq64=sq,
        sq32=torch.from_numpy(sq.astype(np.float32)).to(device),
    )


def error_factor(dim: int, device: torch.device) -> float:
    """c such that |fl32(d^2) - d^2| <= c * (|x|^2 + |y|^2) for d^2 = |x|^2 + |y|^2 - 2 x.y.

    From the standard dot-product bound |fl(x.y) - x.y| <= gamma_D |x||y| (any summation
    order), 2|x||y| <= |x|^2 + |y|^2, plus the roundings of the norms and the final sum,
    plus the rounding of the centred coordinates to float32 (which moves d^2 by at most
    about 4u (|x|^2 + |y|^2)).
    """
    u = _U32
    if device.type == "cuda" and torch.get_float32_matmul_precision() != "highest":
        u = _U_TF32
    gamma = dim * u / (1.0 - dim * u)
    return gamma + 16.0 * _U32


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
    step = max(1, 1_000_000 // max(1, a.shape[1]))
    for s in range(0, len(ia), step):
        diff = a[ia[s : s + step]].astype(np.float64) - b[ib[s : s + step]]
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
    tol = error_factor(x.x.shape[1], dev) * (x.sq64 + x.sq64.max())
    rows = np.arange(n)
    exact = exact_sq_dists(x.x, np.repeat(rows, m), x.x, cand_i.ravel()).reshape(n, m)
    radii = np.sort(exact, axis=1)[:, k - 1]
    # The k candidates with float32 values <= v_k have exact values <= v_k + tol, so every
    # true k-nearest neighbour has float32 value <= v_k + 2 tol. If the m-th candidate is
    # not beyond that, some neighbour may be missing from the candidates: recompute the
    # row in float32, take everything under that threshold, and decide those exactly.
    thresh = cand_v[:, k - 1] + 2.0 * tol
    unsure = np.flatnonzero((cand_v[:, m - 1] <= thresh) & (m < n - 1))
    for start in range(0, len(unsure), block):
        idx = unsure[start : start + block]
        sel = torch.from_numpy(idx).to(dev)
        d2 = torch.addmm(x.sq32[sel, None] + x.sq32[None, :], x.x32[sel], x.x32.T, alpha=-2.0)
        d2[torch.arange(len(idx), device=dev), sel] = float("inf")
        limit = torch.from_numpy(thresh[idx]).to(dev)[:, None]
        ii, jj = torch.nonzero(d2.clamp_(min=0.0).double() <= limit, as_tuple=True)
        ii, jj = ii.cpu().numpy(), jj.cpu().numpy()
        d = exact_sq_dists(x.x, idx[ii], x.x, jj)
        for r, i in enumerate(idx):
            radii[i] = np.partition(d[ii == r], k - 1)[k - 1]
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
    c = error_factor(real.x.shape[1], dev)
    sq_max = float(max(real.sq64.max(), fake.sq64.max()))
    r_out = [
        BallCounts(np.zeros(fake.n, bool), np.zeros(fake.n, np.int64), np.zeros(real.n, bool))
        for _ in real_sq_radii
    ]
    f_out = [np.zeros(real.n, bool) for _ in fake_sq_radii]

    def bounds(r2: np.ndarray, sq_centre: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        # inside for sure if d2 + c*sq_other < r2 - c*sq_centre - slack; outside for sure if
        # d2 - c*sq_other > r2 + c*sq_centre + slack. The slack covers the float32 rounding
        # of these sums and of the thresholds themselves (all below ~3u (sq_centre + sq_max)).
        slack = 8.0 * _U32 * (r2 + sq_centre + sq_max)
        lo = torch.from_numpy((r2 - c * sq_centre - slack).astype(np.float32)).to(dev)
        hi = torch.from_numpy((r2 + c * sq_centre + slack).astype(np.float32)).to(dev)
        return lo, hi

    r_bounds = [bounds(r2, real.sq64) for r2 in real_sq_radii]
    f_bounds = [bounds(r2, fake.sq64) for r2 in fake_sq_radii]
    c_sq_r, c_sq_f = c * real.sq32, c * fake.sq32

    def decide(
        d2: torch.Tensor,
        add: torch.Tensor,
        lo: torch.Tensor,
        hi: torch.Tensor,
        r2: np.ndarray,
        bi: slice,
        bj: slice,
    ) -> np.ndarray:
        inside = (d2 + add) < lo
        unsure = ((d2 - add) <= hi) & ~inside
        mask = inside.cpu().numpy()
        if bool(unsure.any()):
            ii, jj = (t.cpu().numpy() for t in torch.nonzero(unsure, as_tuple=True))
            exact = exact_sq_dists(real.x, ii + bi.start, fake.x, jj + bj.start)
            r2_pairs = np.broadcast_to(r2, mask.shape)[ii, jj]
            mask[ii, jj] = exact <= r2_pairs if inclusive else exact < r2_pairs
        return mask

    for bi in _blocks(real.n, block):
        for bj in _blocks(fake.n, block):
            d2 = block_sq_dists(real, bi, fake, bj)
            add_f, add_r = c_sq_f[None, bj], c_sq_r[bi, None]
            for out, (lo, hi), r2 in zip(r_out, r_bounds, real_sq_radii):
                mask = decide(d2, add_f, lo[bi, None], hi[bi, None], r2[bi, None], bi, bj)
                out.any_per_fake[bj] |= mask.any(axis=0)
                out.count_per_fake[bj] += mask.sum(axis=0)
                out.any_per_real[bi] |= mask.any(axis=1)
            for out_f, (lo, hi), r2 in zip(f_out, f_bounds, fake_sq_radii):
                mask = decide(d2, add_r, lo[None, bj], hi[None, bj], r2[None, bj], bi, bj)
                out_f[bi] |= mask.any(axis=1)
    return r_out, f_out
