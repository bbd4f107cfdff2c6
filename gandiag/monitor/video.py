"""Video signals from clip batches ``[B, T, C, H, W]``, and per-discriminator output moments.

Like :mod:`gandiag.monitor.probes`, each function returns ``(sums, finalise)``: sums on the
device that add up across ranks, turned into named scalars on the host. What each measures
(the failure it exposes):

- **motion** (frozen video): mean absolute frame-to-frame change ``|x_{t+1} - x_t|`` of the
  fakes over that of the reals in the same step.
- **recurrence** (looping, repeated action; cf. MoCoGAN issue #19): each clip's frames minus
  its temporal mean, then the mean Pearson correlation ``c(L)`` of frames ``t`` and ``t + L``
  for each lag; recurrence is ``max_{L >= 2} c(L) - c(1)``: how much closer a clip comes back
  to an earlier frame than it stays to the next one. A clip that repeats with period ``P``
  scores ``1 - c(1) > 1``; a fade or a steady motion decorrelates with the lag and scores
  <= 0; a frozen clip has nothing left after removing its mean and scores 0.
- **coherence** (flicker that moves as much as real video: each frame drawn anew, a glyph
  that jumps from place to place): from the same correlations, ``c(1) - min_{L >= 2}
  c(L)``, how much more alike neighbouring frames are than the least alike pair of
  frames; fakes over reals. Real clips of moving glyphs score about 0.5; frames drawn
  independently of each other score about 0 whatever their motion (frames shuffled within
  each real clip: 0.06x the reals', at 1.4x their motion); a frozen clip scores 0, so the
  ratio is evidence only while the clips move; a clip alternating between two frames
  scores 0 too (it is both a loop and a flicker).
- **flip rate** (flicker, identity drift): the bundled glyph classifier labels a crop
  around each frame's intensity centroid (the glyph, re-centred and scaled to 28x28); the
  share of consecutive *legible* frame pairs whose label changes, fakes against reals (the
  classifier's own errors flip real clips too, so the excess over reals is what counts).
  A label change is evidence that the glyph changed identity only when both frames show
  a glyph the classifier can read. A generator that still draws blobs gets labels that
  wander at random from frame to frame: those flips are the classifier's noise, not
  flicker. So a frame is *legible* when its top-class probability reaches the
  ``legible_quantile`` (5%) quantile of the real frames' top-class probabilities in the
  same step: the level that 95% of real glyph frames reach, fixed by the reals, never by
  the fakes. Only pairs of two legible frames are counted, and the share of such pairs
  is reported beside the flip rate (``legible_*``). A step whose fakes have no legible
  pair reports no fake flip rate and no excess: no evidence, which is not "0 flicker".
- **class counts** (one class whatever was asked: mode collapse): each clip's class is
  the glyph classifier's most frequent label over its legible frames, counted only for
  clips with at least half their frames legible; the counts of fake and real clips per
  class, which a detector pools over steps (a batch of 16 clips says little on its own).
- **motion diversity** (one motion per class; cf. MoCoGAN-HD issue #8): the centroid's
  velocity sequence per clip; the mean distance between those of clips of the same class
  (any two clips when no labels are given), fakes over reals.

The glyph-classifier signals assume single-channel clips of one glyph on a dark background
in ``[-1, 1]`` (the ``moving_glyphs`` data); ``crop`` is the glyph's share of the frame side.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from gandiag import signals as S
from gandiag.monitor.probes import Stat, _div

log = logging.getLogger(__name__)

#: the glyph's share of the frame side in the moving_glyphs data (18 of 32 pixels)
DEFAULT_CROP = 18 / 32


def _motion(x: torch.Tensor) -> torch.Tensor:
    return (x[:, 1:] - x[:, :-1]).abs().mean()


def recurrence_by_lag(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``[T - 1]``: mean correlation of mean-removed frames ``t`` and ``t + L``, L = 1..T-1.

    Pairs whose frames do not vary (a frozen clip) count as uncorrelated (0).
    """
    b, t = x.shape[:2]
    d = x.reshape(b, t, -1).float()
    d = d - d.mean(1, keepdim=True)
    d = d - d.mean(2, keepdim=True)
    norm = d.norm(dim=2)
    out = []
    for lag in range(1, t):
        num = (d[:, :-lag] * d[:, lag:]).sum(2)
        den = norm[:, :-lag] * norm[:, lag:]
        valid = den > eps * d.shape[2]
        corr = torch.where(valid, num / den.clamp_min(eps), torch.zeros_like(num))
        out.append(corr.mean())
    if not out:
        return x.new_zeros(0, dtype=torch.float32)
    return torch.stack(out)


def recurrence_of(lags: np.ndarray) -> float:
    """Recurrence ``max_{L >= 2} c(L) - c(1)`` from :func:`recurrence_by_lag`'s ``c``."""
    return float(np.max(lags[1:]) - lags[0])


def coherence_of(lags: np.ndarray) -> float:
    """Temporal coherence ``c(1) - min_{L >= 2} c(L)`` from :func:`recurrence_by_lag`'s ``c``."""
    return float(lags[0] - np.min(lags[1:]))


def centroids(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, 2]`` intensity centroids (x, y) in [-1, 1] coordinates of clips in [-1, 1]."""
    h, w = x.shape[-2:]
    m = ((x.float().mean(2) + 1.0) / 2.0).clamp_min(0.0)  # [B, T, H, W], background 0
    mass = m.sum((2, 3)).clamp_min(1e-6)
    ys = torch.linspace(-1, 1, h, device=x.device)
    xs = torch.linspace(-1, 1, w, device=x.device)
    cx = (m.sum(2) * xs).sum(2) / mass
    cy = (m.sum(3) * ys).sum(2) / mass
    return torch.stack([cx, cy], 2)


def glyph_crops(x: torch.Tensor, crop: float = DEFAULT_CROP, size: int = 28) -> torch.Tensor:
    """``[B*T, 1, size, size]``: each frame's window of side ``crop`` (share of the frame)
    around its centroid, resampled to the glyph classifier's input size."""
    b, t = x.shape[:2]
    c = centroids(x).reshape(b * t, 2)
    theta = torch.zeros(b * t, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = crop
    theta[:, :, 2] = c
    frames = x.float().mean(2, keepdim=True).reshape(b * t, 1, *x.shape[3:])
    grid = F.affine_grid(theta, [b * t, 1, size, size], align_corners=False)
    return F.grid_sample(frames, grid, padding_mode="border", align_corners=False)


#: the legibility level is this quantile of the real frames' top-class probabilities
LEGIBLE_QUANTILE = 0.05


def top_class(
    classifier: torch.nn.Module, x: torch.Tensor, crop: float = DEFAULT_CROP
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``([B, T], [B, T], K)``: each frame's top-class probability and predicted class, and
    the number of classes."""
    b, t = x.shape[:2]
    probs = classifier(glyph_crops(x, crop)).float().softmax(1)
    top, preds = probs.max(1)
    return top.reshape(b, t), preds.reshape(b, t), probs.shape[1]


def clip_class_counts(preds: torch.Tensor, legible: torch.Tensor, classes: int) -> torch.Tensor:
    """``[classes]``: clips per class. A clip's class is the most frequent label among its
    legible frames (ties: the lowest class); a clip counts only when at least half of its
    frames are legible, so a clip the classifier can barely read names no class."""
    votes = F.one_hot(preds, classes).double() * legible.unsqueeze(-1).double()  # [B, T, K]
    votes = votes.sum(1)
    read = legible.double().sum(1) * 2 >= preds.shape[1]
    return F.one_hot(votes.argmax(1), classes).double()[read].sum(0)


def flip_counts(preds: torch.Tensor, legible: torch.Tensor | None = None) -> torch.Tensor:
    """``[3]``: (class changes between consecutive legible frames, number of legible frame
    pairs, number of frame pairs); preds and legible (bool, None: all legible) ``[B, T]``.
    A pair counts only when both of its frames are legible."""
    if legible is None:
        legible = torch.ones_like(preds, dtype=torch.bool)
    pair = legible[:, 1:] & legible[:, :-1]
    changes = ((preds[:, 1:] != preds[:, :-1]) & pair).double().sum()
    return torch.stack(
        [changes, pair.double().sum(), changes.new_full((), float(preds[:, 1:].numel()))]
    )


def motion_diversity(x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``[2]``: (sum of distances between centroid-velocity sequences of same-class clips,
    number of such pairs)."""
    vel = centroids(x).diff(dim=1).reshape(x.shape[0], -1)
    dist = torch.cdist(vel, vel)
    n = x.shape[0]
    same = torch.ones(n, n, dtype=torch.bool, device=x.device)
    if labels is not None:
        same = labels.reshape(-1, 1) == labels.reshape(1, -1)
    pairs = same & ~torch.eye(n, dtype=torch.bool, device=x.device)
    return torch.stack([(dist * pairs).sum().double(), pairs.double().sum()])


def clip_stats(
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None = None,
    classifier: torch.nn.Module | None = None,
    crop: float = DEFAULT_CROP,
    legible_quantile: float = LEGIBLE_QUANTILE,
) -> Stat:
    """The video signals of one step (module docstring); ``classifier``: glyph logits or None."""
    real, fake = real.detach(), fake.detach().to(real.device)
    lags = real.shape[1] - 1
    parts = [
        _motion(real).reshape(1).double(),
        _motion(fake).reshape(1).double(),
        recurrence_by_lag(real).double(),
        recurrence_by_lag(fake).double(),
        motion_diversity(real, labels),
        motion_diversity(fake, labels),
    ]
    use_clf = classifier is not None and real.shape[2] == 1
    classes = 0
    if use_clf and classifier is not None:
        top_r, preds_r, classes = top_class(classifier, real, crop)
        top_f, preds_f, _ = top_class(classifier, fake, crop)
        level = torch.quantile(top_r.flatten(), legible_quantile)
        parts.append(flip_counts(preds_r, top_r >= level))
        parts.append(flip_counts(preds_f, top_f >= level))
        parts.append(clip_class_counts(preds_r, top_r >= level, classes))
        parts.append(clip_class_counts(preds_f, top_f >= level, classes))
    sums = torch.cat(parts)

    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        m_r, m_f = float(v[0]) / world, float(v[1]) / world
        rec_r = v[2 : 2 + lags] / world
        rec_f = v[2 + lags : 2 + 2 * lags] / world
        pos = 2 + 2 * lags
        out = {
            S.VIDEO_MOTION_REAL: m_r,
            S.VIDEO_MOTION_FAKE: m_f,
            S.VIDEO_MOTION_RATIO: _div(m_f, m_r),
        }
        if lags > 1:
            r_r, r_f = recurrence_of(rec_r), recurrence_of(rec_f)
            out[S.VIDEO_RECURRENCE_REAL] = r_r
            out[S.VIDEO_RECURRENCE_FAKE] = r_f
            out[S.VIDEO_RECURRENCE_EXCESS] = r_f - r_r
            c_r, c_f = coherence_of(rec_r), coherence_of(rec_f)
            out[S.VIDEO_COHERENCE_REAL] = c_r
            out[S.VIDEO_COHERENCE_FAKE] = c_f
            if c_r > 0:
                out[S.VIDEO_COHERENCE_RATIO] = c_f / c_r
        if v[pos + 1] > 0 and v[pos + 3] > 0:  # a batch with no same-class pair measures nothing
            div_r = _div(v[pos], v[pos + 1])
            div_f = _div(v[pos + 2], v[pos + 3])
            out[S.VIDEO_MOTION_DIVERSITY] = _div(div_f, div_r)
        pos += 4
        if use_clf:
            (ch_r, leg_r, all_r), (ch_f, leg_f, all_f) = v[pos : pos + 3], v[pos + 3 : pos + 6]
            out[S.VIDEO_LEGIBLE_REAL] = _div(leg_r, all_r)
            out[S.VIDEO_LEGIBLE_FAKE] = _div(leg_f, all_f)
            # no legible pair: no flip rate (no evidence either way), not a rate of 0
            if leg_r > 0:
                out[S.VIDEO_FLIP_REAL] = _div(ch_r, leg_r)
            if leg_f > 0:
                out[S.VIDEO_FLIP_FAKE] = _div(ch_f, leg_f)
            if leg_r > 0 and leg_f > 0:
                out[S.VIDEO_FLIP_EXCESS] = out[S.VIDEO_FLIP_FAKE] - out[S.VIDEO_FLIP_REAL]
            pos += 6
            for k in range(classes):  # clip counts: they add up over steps and ranks
                out[S.video_class_real(k)] = float(v[pos + k])
                out[S.video_class_fake(k)] = float(v[pos + classes + k])
        return out

    return sums, finalise


class VideoProbe:
    """Holds the glyph classifier the flip rate needs (loaded on first use, once)."""

    def __init__(self, device: torch.device, crop: float = DEFAULT_CROP) -> None:
        self.device, self.crop = device, crop
        self._clf: torch.nn.Module | None = None
        self._failed = False

    def classifier(self) -> torch.nn.Module | None:
        if self._clf is None and not self._failed:
            try:
                from gandiag.features.glyph import load_glyph_classifier

                self._clf = load_glyph_classifier(self.device)
            except (ImportError, FileNotFoundError, ValueError, RuntimeError) as exc:
                self._failed = True
                log.warning("video flip-rate signals off: glyph classifier unavailable (%s)", exc)
        return self._clf

    @torch.no_grad()
    def stats(
        self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> Stat | None:
        if real.dim() != 5 or real.shape[1] < 2:
            return None
        clf = self.classifier() if real.shape[2] == 1 else None
        return clip_stats(real, fake, labels, clf, self.crop)
