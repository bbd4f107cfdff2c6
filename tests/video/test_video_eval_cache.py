"""VideoEvaluator computes its fixed real set's clips, motion and FVD-lite features once;
later evaluations score as a fresh evaluator would."""

from __future__ import annotations

import math

import torch

from gandiag.data import load_dataset
from gandiag.train.video_eval import EVAL_MOTION_RATIO, VideoEvaluator


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
