"""VideoEvaluator computes its fixed real set's clips, motion and FVD-lite features once;
later evaluations score as a fresh evaluator would."""

from __future__ import annotations

import math

import torch

from gandiag.data import load_dataset
from gandiag.signals import EVAL_COHERENCE_RATIO, EVAL_MOTION_RATIO, EVAL_RECURRENCE_EXCESS
from gandiag.train.video_eval import VideoEvaluator


def test_second_evaluation_matches_a_fresh_evaluator() -> None:
    ds = load_dataset("moving_glyphs", n=40, seed=0)
    g = torch.Generator().manual_seed(0)
    first = torch.rand(40, 8, 1, 32, 32, generator=g) * 2 - 1
    second = torch.from_numpy(ds.batch(list(range(40)))).flip(1)  # real clips run backwards

    def make() -> VideoEvaluator:
        return VideoEvaluator(ds, ["fvd_lite"], 40, torch.device("cpu"), seed=1)

    reused = make()
    reused(first, 0)
    scalars, results = reused(second, 1)
    fresh_scalars, fresh_results = make()(second, 1)
    assert scalars.keys() == fresh_scalars.keys()
    for k, v in scalars.items():
        assert math.isclose(v, fresh_scalars[k], rel_tol=1e-12), k
    # reversed real clips move exactly as much as the real ones
    assert math.isclose(scalars[EVAL_MOTION_RATIO], 1.0, rel_tol=1e-6)
    for ours, ref in zip(results, fresh_results, strict=True):
        assert ours.name == ref.name and ours.step == ref.step == 1
        assert math.isclose(ours.value, ref.value, rel_tol=1e-9, abs_tol=1e-9)


def test_evaluation_reads_looping_and_flicker_on_the_samples() -> None:
    """``eval/recurrence_excess`` and ``eval/coherence_ratio``: the Monitor's looping and
    flicker measures on the whole evaluation, against the evaluator's real clips."""

    ds = load_dataset("moving_glyphs", n=240, seed=0)
    ev = VideoEvaluator(ds, [], 120, torch.device("cpu"), seed=1)
    other = torch.from_numpy(ds.batch(list(range(120, 240))))  # real clips, not the set's own
    same = ev(other, 0)[0]
    assert abs(same[EVAL_COHERENCE_RATIO] - 1.0) < 0.2 and abs(same[EVAL_RECURRENCE_EXCESS]) < 0.1
    g = torch.Generator().manual_seed(0)
    order = torch.stack([torch.randperm(8, generator=g) for _ in range(120)])
    redrawn = ev(other[torch.arange(120)[:, None], order], 1)[0]  # no frame follows the last
    assert redrawn[EVAL_COHERENCE_RATIO] < 0.2 and redrawn[EVAL_RECURRENCE_EXCESS] < 1.0
    looped = ev(other[:, [0, 1, 2, 3] * 2], 2)[0]  # the first four frames twice
    assert looped[EVAL_RECURRENCE_EXCESS] > 1.0 and looped[EVAL_COHERENCE_RATIO] > 0.4
