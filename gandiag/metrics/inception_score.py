"""Inception Score from classifier logits: exp(E_x KL(p(y|x) || p(y))) over splits.

Both anchors split the samples into ``splits`` consecutive chunks and report the mean and
standard deviation of the per-split scores; they differ in the std's ddof (torch-fidelity
0, torchmetrics 1). We default to ddof 0 and take ``ddof=1`` for torchmetrics' number.
Split ``i`` is rows ``[i*N//splits, (i+1)*N//splits)`` (torch-fidelity's boundaries); we
do not shuffle (both anchors do, with their own RNGs): shuffle first if the order of the
samples is not random. Softmax and logs are float64, from log-softmax (no log(0)).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gandiag.metrics._validate import as_features, check_positive_int


class ISResult(NamedTuple):
    mean: float
    std: float
    splits: int


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def inception_score(logits: Any, splits: int = 10, *, ddof: int = 0) -> ISResult:
    """IS of class logits ``[N, C]`` (pre-softmax). ``ddof`` of the std: 0 (default, as
    torch-fidelity) or 1 (as torchmetrics)."""
    x = as_features(logits, "logits")
    splits = check_positive_int(splits, "splits")
    if splits > x.shape[0]:
        raise ValueError(
            f"splits={splits} is more than the {x.shape[0]} samples; pass fewer splits or more samples"
        )
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof}")
    logp = _log_softmax(x)
    scores = []
    n = logp.shape[0]
    for i in range(splits):  # torch-fidelity's split boundaries; no shuffling
        chunk = logp[i * n // splits : (i + 1) * n // splits]
        p = np.exp(chunk)
        log_marginal = np.log(p.mean(axis=0))
        kl = (p * (chunk - log_marginal)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    scores_arr = np.asarray(scores)
    std = float(scores_arr.std(ddof=ddof)) if splits > ddof else float("nan")
    return ISResult(mean=float(scores_arr.mean()), std=std, splits=splits)
