"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

A point's radius is the Euclidean distance to its k-th nearest neighbour in its own set
(itself excluded). precision = share of fakes inside at least one real ball; recall =
share of reals inside at least one fake ball; density = (1/k) * mean over fakes of the
number of real balls containing it; coverage = share of reals whose ball contains a fake.

Ties: "inside" means ``d < r`` by default, as the ``prdc`` package (the reference code of
density/coverage) tests it; NVIDIA's precision/recall code and torch-fidelity use
``d <= r``: pass ``inclusive=True`` for that. The two differ only on exact ties.

Every comparison is exact in float64 (see :mod:`gandiag.metrics._neighbors`), memory is
O(block^2 + N*k), and the real set's radii can be passed back in (``real_radii``) so a
fixed reference set costs one pass per evaluation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from gandiag.metrics import _neighbors as nb
from gandiag.metrics._validate import as_features, check_positive_int, check_same_dim


class PRResult(NamedTuple):
    precision: float
    recall: float


class DCResult(NamedTuple):
    density: float
    coverage: float


class PRDCResult(NamedTuple):
    precision: float
    recall: float
    density: float
    coverage: float


def _device(device: Any, *inputs: Any) -> torch.device:
    if device is not None:
        return torch.device(device)
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


def knn_radii(
    features: Any, k: int, *, device: Any = None, block_size: int = nb.DEFAULT_BLOCK
) -> np.ndarray:
    """Distance from each row of ``features`` to its k-th nearest other row (float64, exact)."""
    k = check_positive_int(k, "k")
    x = as_features(features, "features", min_samples=k + 1, keep_float32=True)
    dev = _device(device, features)
    prepared = nb.prepare(x, x.mean(axis=0, dtype=np.float64), dev)
    return np.sqrt(nb.knn_sq_radii(prepared, k, block=block_size))


def _prepare_pair(
    real: Any, fake: Any, min_real: int, min_fake: int, device: Any
) -> tuple[nb.PreparedSet, nb.PreparedSet]:
    """Both sets checked and prepared around the real set's mean (distances are translation
    invariant; one shared centre keeps real-fake distances exact)."""
    r = as_features(real, "real", min_samples=min_real, keep_float32=True)
    f = as_features(fake, "fake", min_samples=min_fake, keep_float32=True)
    check_same_dim(r.shape[1], f.shape[1])
    dev = _device(device, real, fake)
    center = r.mean(axis=0, dtype=np.float64)
    return nb.prepare(r, center, dev), nb.prepare(f, center, dev)


def _real_sq_radii(
    pr: nb.PreparedSet, radii: np.ndarray | None, k: int, block: int, name: str
) -> np.ndarray:
    """Squared k-NN radii of the real set: the given ones, checked, or computed."""
    given = _check_radii(radii, pr.n, name)
    return given**2 if given is not None else nb.knn_sq_radii(pr, k, block=block)


def _check_radii(radii: np.ndarray | None, n: int, name: str) -> np.ndarray | None:
    if radii is None:
        return None
    r = np.asarray(radii, dtype=np.float64)
    if r.shape != (n,) or not np.isfinite(r).all() or (r < 0).any():
        raise ValueError(
            f"{name} must be {n} finite non-negative distances (from knn_radii on the same "
            f"set and k), got shape {r.shape}"
        )
    return r


def prdc(
    real: Any,
    fake: Any,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    inclusive: bool = False,
    real_radii_pr: np.ndarray | None = None,
    real_radii_dc: np.ndarray | None = None,
    device: Any = None,
    block_size: int = nb.DEFAULT_BLOCK,
) -> PRDCResult:
    """All four numbers in one pass over the real x fake distances (k_pr for precision and
    recall, k_dc for density and coverage)."""
    k_pr, k_dc = check_positive_int(k_pr, "k"), check_positive_int(k_dc, "k")
    pr, pf = _prepare_pair(real, fake, max(k_pr, k_dc) + 1, k_pr + 1, device)
    rr_pr = _real_sq_radii(pr, real_radii_pr, k_pr, block_size, "real_radii_pr")
    same = k_dc == k_pr and (real_radii_dc is None or real_radii_dc is real_radii_pr)
    rr_dc = rr_pr if same else _real_sq_radii(pr, real_radii_dc, k_dc, block_size, "real_radii_dc")
    rf_pr = nb.knn_sq_radii(pf, k_pr, block=block_size)
    real_sets = [rr_pr] if rr_dc is rr_pr else [rr_pr, rr_dc]
    counts, (recall_any,) = nb.ball_membership(
        pr, pf, real_sets, [rf_pr], inclusive=inclusive, block=block_size
    )
    c_pr, c_dc = counts[0], counts[-1]
    return PRDCResult(
        precision=float(c_pr.any_per_fake.mean()),
        recall=float(recall_any.mean()),
        density=float(c_dc.count_per_fake.mean() / k_dc),
        coverage=float(c_dc.any_per_real.mean()),
    )


def precision_recall(
    real: Any,
    fake: Any,
    k: int = 3,
    *,
    inclusive: bool = False,
    real_radii: np.ndarray | None = None,
    device: Any = None,
    block_size: int = nb.DEFAULT_BLOCK,
) -> PRResult:
    """Improved precision and recall; ``real_radii`` reuses :func:`knn_radii` of the real set."""
    k = check_positive_int(k, "k")
    pr, pf = _prepare_pair(real, fake, k + 1, k + 1, device)
    rr = _real_sq_radii(pr, real_radii, k, block_size, "real_radii")
    rf = nb.knn_sq_radii(pf, k, block=block_size)
    (c,), (recall_any,) = nb.ball_membership(
        pr, pf, [rr], [rf], inclusive=inclusive, block=block_size
    )
    return PRResult(precision=float(c.any_per_fake.mean()), recall=float(recall_any.mean()))


def density_coverage(
    real: Any,
    fake: Any,
    k: int = 5,
    *,
    inclusive: bool = False,
    real_radii: np.ndarray | None = None,
    device: Any = None,
    block_size: int = nb.DEFAULT_BLOCK,
) -> DCResult:
    """Density and coverage; only the real set's radii are needed (fakes need no k-NN)."""
    k = check_positive_int(k, "k")
    pr, pf = _prepare_pair(real, fake, k + 1, 1, device)
    rr = _real_sq_radii(pr, real_radii, k, block_size, "real_radii")
    (c,), _ = nb.ball_membership(pr, pf, [rr], [], inclusive=inclusive, block=block_size)
    return DCResult(
        density=float(c.count_per_fake.mean() / k), coverage=float(c.any_per_real.mean())
    )
