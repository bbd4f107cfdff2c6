"""Exact k-nearest-neighbour radii and ball-membership tests without N x N matrices.

Distances are computed block by block as float32 matrix products on the chosen torch
device (fast), each with a rigorous bound on its rounding error. Only comparisons that
fall inside that error band (near-ties) are recomputed in float64 from the coordinates,
so every decision equals the one float64 arithmetic would make, while host memory stays
O(block * D + block^2 + N*k) beyond the inputs instead of prdc's three dense N x N matrices.
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
    """One feature set: its original coordinates (float32 or float64, for the exact float64
    rechecks), a centre, and the squared norms of the centred float32 points.

    Distances are translation invariant; centring shrinks the norms and with them the
    float32 error bound. On the CPU the centred float32 rows are made block by block
    (:meth:`rows`), so no full copy of the set is ever held; on an accelerator the whole
    centred set is copied to the device once (host memory is then the transfer only).
    """

    x: np.ndarray
    center32: np.ndarray
    sq64: np.ndarray  # squared norms of the centred float32 points, in float64
    sq32: torch.Tensor  # the same, float32 on the device
    device: torch.device
    resident: torch.Tensor | None = None  # the centred float32 set, kept on accelerators

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    def rows(self, index: slice | np.ndarray) -> torch.Tensor:
        """Centred float32 rows ``index`` on the device."""
        if self.resident is not None:
            if isinstance(index, np.ndarray):
                return self.resident[torch.from_numpy(index).to(self.device)]
            return self.resident[index]
        return torch.from_numpy(_centred32(self.x[index], self.center32))


def _centred32(x: np.ndarray, center32: np.ndarray) -> np.ndarray:
    # One rounding from the float32 (or float64) coordinates: x - c is computed in float32
    # for float32 input (c itself is a float32 number, so this is exact up to one rounding).
    if x.dtype == np.float32:
        return np.subtract(x, center32)
    return (x - center32).astype(np.float32)


def prepare(
    x: np.ndarray,
    center: np.ndarray,
    device: torch.device,
    chunk: int = 4096,
    *,
    resident: bool | None = None,
) -> PreparedSet:
    """Norms of the centred set; ``resident`` (default: on accelerators) keeps the whole
    centred float32 set on the device instead of centring block by block."""
    center32 = np.asarray(center, dtype=np.float32)
    sq = np.empty(x.shape[0], dtype=np.float64)
    if resident is None:
        resident = device.type != "cpu"
    copy = torch.empty(x.shape, dtype=torch.float32, device=device) if resident else None
    for s in range(0, x.shape[0], chunk):  # chunked: no full-size temporary on the host
        part = _centred32(x[s : s + chunk], center32)
        sq[s : s + chunk] = np.einsum("ij,ij->i", part, part, dtype=np.float64)
        if copy is not None:
            copy[s : s + chunk] = torch.from_numpy(part).to(device)
    return PreparedSet(
        x=x,
        center32=center32,
        sq64=sq,
        sq32=torch.from_numpy(sq.astype(np.float32)).to(device),
        device=device,
        resident=copy,
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


def block_sq_dists(
    xa: torch.Tensor, sqa: torch.Tensor, xb: torch.Tensor, sqb: torch.Tensor
) -> torch.Tensor:
    """float32 squared distances between centred rows ``xa`` and ``xb`` (norms ``sq*``)."""
    d2 = torch.addmm(sqa[:, None] + sqb[None, :], xa, xb.T, alpha=-2.0)
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
    dev = x.device
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
        xi = x.rows(bi)
        for bj in _blocks(n, block):
            if bj.start < bi.start:
                continue
            xj = xi if bj.start == bi.start else x.rows(bj)
            d2 = block_sq_dists(xi, x.sq32[bi], xj, x.sq32[bj])
            if bj.start == bi.start:
                d2.fill_diagonal_(float("inf"))
                merge(bi, d2, bj.start)
            else:
                merge(bi, d2, bj.start)
                merge(bj, d2.T, bi.start)

    cand_v = best_v.double().cpu().numpy()
    cand_i = best_i.cpu().numpy()
    tol = error_factor(x.dim, dev) * (x.sq64 + x.sq64.max())
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
        xs, sqs = x.rows(idx), x.sq32[sel]
        limit = torch.from_numpy(thresh[idx]).to(dev)[:, None]
        found_i, found_j = [], []
        for bj in _blocks(n, block):
            d2 = block_sq_dists(xs, sqs, x.rows(bj), x.sq32[bj]).double()
            own = np.flatnonzero((idx >= bj.start) & (idx < bj.stop))
            d2[torch.from_numpy(own).to(dev), torch.from_numpy(idx[own] - bj.start).to(dev)] = (
                float("inf")
            )
            bi_, bj_ = torch.nonzero(d2 <= limit, as_tuple=True)
            found_i.append(bi_.cpu().numpy())
            found_j.append(bj_.cpu().numpy() + bj.start)
        ii, jj = np.concatenate(found_i), np.concatenate(found_j)
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
    dev = real.device
    c = error_factor(real.dim, dev)
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
        xi = real.rows(bi)
        for bj in _blocks(fake.n, block):
            d2 = block_sq_dists(xi, real.sq32[bi], fake.rows(bj), fake.sq32[bj])
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
