"""The video failure suite's outcome labels and its motion-preference outcome
(bench/failure_suite_video.py)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from failure_suite_video import label_video, motion_preference


def _outcomes(motion: list[float], auc_s: list[float], auc_t: list[float]) -> dict:
    n = len(motion)
    return {
        "step": [25 * i for i in range(n)],
        "motion_ratio": motion,
        "fvd_lite": [100.0] * n,
        "auc_D_S": auc_s,
        "auc_D_T": auc_t,
        # an outcome, never a label: D_T blind to motion throughout
        "motion_pref_D_S": [0.5] * n,
        "motion_pref_D_T": [0.5] * n,
    }


def test_frozen_label_strict_band_and_warmup() -> None:
    ok = [1.0] * 13
    # below 0.3 at every evaluation over 100 steps or more from step 100 on: frozen from the
    # first of them
    labels, amb = label_video(_outcomes([1.0] * 6 + [0.2] * 7, ok, ok))
    assert labels == {"frozen_video": 150} and amb == {}
    labels, _ = label_video(_outcomes([1.0] * 6 + [0.2] * 5 + [1.0] * 2, ok, ok))
    assert labels == {"frozen_video": 150}  # 150..250: exactly the span
    # a still phase shorter than the span (four evaluations, 75 steps) is not frozen, even
    # twice: it is what a healthy generator does while it learns to draw
    still = [1.0] * 4 + [0.2] * 4 + [1.0] + [0.2] * 4
    assert label_video(_outcomes(still, ok, ok)) == ({}, {})
    # between 0.3 and 0.5: the margin band, neither frozen nor healthy
    labels, amb = label_video(_outcomes([1.0] * 6 + [0.4] * 7, ok, ok))
    assert labels == {} and amb == {"frozen_video": 150}
    # still clips before step 100 only (the untrained generator): not a label
    labels, amb = label_video(_outcomes([0.0] * 4 + [1.0] * 9, ok, ok))
    assert labels == {} and amb == {}
    # one evaluation below the threshold is not a streak
    labels, amb = label_video(_outcomes([1.0] * 6 + [0.2] + [1.0] * 6, ok, ok))
    assert labels == {} and amb == {}


def test_imbalance_label_needs_one_idle_and_one_active_discriminator() -> None:
    n = 13
    labels, _ = label_video(_outcomes([1.0] * n, [1.0] * n, [0.45] * n))
    assert labels == {"d_imbalance": 100}
    # both separate nothing: no imbalance (and motion_pref_* never becomes a label)
    labels, amb = label_video(_outcomes([1.0] * n, [0.5] * n, [0.5] * n))
    assert labels == {} and amb == {}
    # the idle one at 0.62: the margin band
    labels, amb = label_video(_outcomes([1.0] * n, [1.0] * n, [0.62] * n))
    assert labels == {} and amb == {"d_imbalance": 100}


def test_motion_preference_is_a_paired_share_with_ties_half() -> None:
    moving = torch.tensor([2.0, 1.0, 0.0, 5.0])
    frozen = torch.tensor([1.0, 1.0, 3.0, -5.0])
    # clip 0 and 3 above their frozen copy, clip 1 tied, clip 2 below
    assert motion_preference(moving, frozen) == (2 + 0.5) / 4
    # a discriminator that scores a clip and its frozen copy alike: exactly 0.5
    x = torch.randn(64)
    assert motion_preference(x, x.clone()) == 0.5
    # paired, not pooled: every clip above its own frozen copy although the frozen scores
    # of other clips are higher than most moving ones
    base = torch.arange(64, dtype=torch.float64)
    assert motion_preference(base + 0.1, base) == 1.0


def test_outcome_table_reads_the_last_evaluation_and_marks_missing_keys() -> None:
    from detectors_video import _last

    run = {"outcomes": {"motion_ratio": [0.9, 0.25], "motion_pref_D_T": []}}
    assert _last(run, "motion_ratio") == "0.25"
    # a run without D_T (no temporal discriminator) has no D_T outcomes
    assert _last(run, "auc_D_T") == "-" and _last(run, "motion_pref_D_T") == "-"


def test_motion_table_reads_the_evaluation_at_a_step() -> None:
    from detectors_video import _at

    run = {"outcomes": {"step": [0, 25, 100, 125], "motion_ratio": [1.3, 0.9, 0.456, 0.2]}}
    assert _at(run, "motion_ratio", 100) == "0.46"
    assert _at(run, "motion_ratio", 200) == "-"  # a shorter run has no evaluation there


def test_video_configurations_split_model_options_from_training_settings() -> None:
    from failure_suite_video import VIDEO_CONFIGS, video_case_settings

    from gandiag.reference_models import build_model

    for config in VIDEO_CONFIGS:
        opts, settings = video_case_settings(config)
        # training settings never reach the model, which rejects unknown options
        build_model("dvdgan", **opts)
        # the same D schedule in every configuration, so only the named difference differs
        assert settings.d_steps == 2 and settings.loss == "hinge"
    assert video_case_settings("video_frozen_temporal")[1].lr_d_t == 0.0
    assert video_case_settings("video_healthy")[1].lr_d_t is None
    assert video_case_settings("video_no_temporal")[0] == {"temporal": False}


def test_header_names_the_runs_of_a_bench_stopped_early() -> None:
    from detectors_video import _configs_and_seeds

    runs = [{"case": {"seed": s, "config": c}} for s in (0, 1) for c in ("a", "b", "c")]
    assert _configs_and_seeds({"seeds": 2, "runs": runs}) == "2 seeds x 3 configurations"
    # stopped after the first run of seed 1 (runs are trained seed by seed)
    assert (
        _configs_and_seeds({"seeds": 2, "runs": runs[:4]})
        == "seed 0: 3 of 3 configurations, seed 1: 1 of 3 configurations"
    )


def test_sample_strip_puts_one_clip_per_row_generated_above_real(tmp_path) -> None:
    import numpy as np
    from failure_suite_video import save_strip
    from PIL import Image

    fake = torch.full((2, 3, 1, 4, 5), -1.0)
    fake[1, 2] = 1.0  # second clip, last frame white
    real = torch.zeros(1, 3, 1, 4, 5)
    save_strip(fake, real, tmp_path / "s" / "strip.png")
    img = np.asarray(Image.open(tmp_path / "s" / "strip.png"))
    assert img.shape == (2 * 4 + 2 + 4, 3 * 5)  # rows: 2 clips, a line, 1 clip; frames across
    assert (img[4:8, 10:15] == 255).all() and (img[4:8, :10] == 0).all()
    assert (img[8:10] == 128).all() and (img[10:] == 128).all()  # 0 -> mid grey


def _with_classes(o: dict, share: list[float], sure: list[float]) -> dict:
    return {**o, "dominant_class_share": share, "confident_dominant_share": sure}


def test_class_concentration_label_needs_clips_the_classifier_can_read() -> None:
    n, ok = 13, [1.0] * 13
    base = _outcomes(ok, ok, ok)
    spread = [0.12] * n
    # six of ten clips in one class from step 150, the confidently named ones too
    labels, amb = label_video(_with_classes(base, [0.12] * 6 + [0.6] * 7, [0.1] * 6 + [0.7] * 7))
    assert labels == {"mode_collapse": 150} and amb == {}
    # the same share, but the clips it names confidently are spread, or it names none
    # (blank or blurred clips it cannot read): the outcome says nothing, no label or band
    for sure in ([0.2] * n, [float("nan")] * n):
        assert label_video(_with_classes(base, [0.12] * 6 + [0.6] * 7, sure)) == ({}, {})
    # between 0.4 and 0.5, read confidently: the margin band
    labels, amb = label_video(_with_classes(base, [0.12] * 6 + [0.45] * 7, [0.1] * 6 + [0.45] * 7))
    assert labels == {} and amb == {"mode_collapse": 150}
    # classes spread: no label; and runs stored without the outcome: none either
    assert label_video(_with_classes(base, spread, spread)) == ({}, {})
    assert label_video(base) == ({}, {})
    # before the warm-up only: not a label
    labels, amb = label_video(_with_classes(base, [0.9] * 4 + [0.1] * 9, [0.9] * 4 + [0.1] * 9))
    assert labels == {} and amb == {}


def test_class_concentration_label_reads_the_named_share_at_its_lower_bound() -> None:
    from failure_suite_video import share_lower_bound

    n, ok = 13, [1.0] * 13
    o = _with_classes(_outcomes(ok, ok, ok), [0.12] * 6 + [0.6] * 7, [0.1] * 6 + [1.0] * 7)
    # a confident share of 1.0 from one or two named clips is arithmetic, not evidence
    for named in (1, 2):
        assert label_video({**o, "confident_clips": [named] * n}) == ({}, {})
    # four clips all in one class: the margin band (bound 0.47); five or more: the label
    labels, amb = label_video({**o, "confident_clips": [4] * n})
    assert labels == {} and amb == {"mode_collapse": 150}
    labels, _ = label_video({**o, "confident_clips": [5] * n})
    assert labels == {"mode_collapse": 150}
    # one evaluation of the streak with enough named clips supports the whole streak: the
    # onset is the streak's first evaluation (step 150, one named clip there)
    labels, _ = label_video({**o, "confident_clips": [0] * 6 + [1, 20] + [1] * 5})
    assert labels == {"mode_collapse": 150}
    # Clopper-Pearson: all of n named clips in one class, bound 0.05 ** (1 / n)
    for k in (1, 2, 5, 20):
        assert share_lower_bound(1.0, k) == pytest.approx(0.05 ** (1 / k))
    assert share_lower_bound(0.0, 5) == 0.0 and math.isnan(share_lower_bound(float("nan"), 0))


def test_class_concentration_reads_the_classifier_on_clips() -> None:
    from failure_suite_video import class_shares

    class Fixed(torch.nn.Module):
        """Class probabilities given by the clip's first pixel (a stand-in classifier)."""

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, clips):
            k = clips[:, 0, 0, 0, 0].long()
            sure = clips[:, 0, 0, 0, 1] > 0
            logits = (
                torch.nn.functional.one_hot(k, 10).float() * torch.where(sure, 10.0, 0.5)[:, None]
            )
            return logits, torch.zeros(len(clips), 8)

    clips = torch.zeros(10, 2, 1, 4, 4)
    clips[:6, 0, 0, 0, 0] = 3  # six clips of class 3 ...
    clips[6:, 0, 0, 0, 0] = torch.tensor([0, 1, 2, 4]).float()
    clips[6:, 0, 0, 0, 1] = 1.0  # ... named without confidence; the other four confidently
    asked = torch.tensor([3, 3, 3, 0, 0, 0, 0, 1, 2, 4])
    share, sure, match, named = class_shares(Fixed(), clips, asked)
    assert share == 0.6 and sure == 0.25 and match == 0.7  # three of the six 3s, the four
    assert named == 4
    clips[:, 0, 0, 0, 1] = 0.0  # none named confidently
    assert math.isnan(class_shares(Fixed(), clips, asked)[1])
    assert class_shares(Fixed(), clips, asked)[3] == 0


def test_every_label_asks_its_rule_for_100_steps() -> None:
    """A discriminator that idles for one or two evaluations (25 steps) is a moment of
    training, like a still phase of 75 steps: no label, and no margin band either."""
    ok = [1.0] * 13
    dip = [0.9] * 6 + [0.45] * 2 + [0.9] * 5  # D_T idle at steps 150 and 175 only
    assert label_video(_outcomes(ok, ok, dip)) == ({}, {})
    held = [0.9] * 6 + [0.45] * 5 + [0.9] * 2  # idle from 150 to 250: 100 steps
    labels, _ = label_video(_outcomes(ok, ok, held))
    assert labels == {"d_imbalance": 150}
    # class concentration read confidently at two evaluations only: no label
    brief = [0.12] * 6 + [0.8] * 2 + [0.12] * 5
    o = {**_outcomes(ok, ok, ok), "dominant_class_share": brief, "confident_dominant_share": brief}
    assert label_video({**o, "confident_clips": [20] * 13}) == ({}, {})
    lasting = [0.12] * 6 + [0.8] * 5 + [0.12] * 2
    o = {**o, "dominant_class_share": lasting, "confident_dominant_share": lasting}
    labels, _ = label_video({**o, "confident_clips": [20] * 13})
    assert labels == {"mode_collapse": 150}


def _clip_outcomes(
    motion: list[float], flips: list[float], legible: list[float], recurrence: list[float]
) -> dict:
    n = len(motion)
    o = _outcomes(motion, [1.0] * n, [1.0] * n)
    return {**o, "flip_excess": flips, "legible_fake": legible, "recurrence_excess": recurrence}


def test_flicker_label_reads_jumps_or_legible_class_flips_for_100_steps() -> None:
    n = 13
    calm, none, readable = [0.0] * n, [float("nan")] * n, [0.9] * n
    # frames change three times as much as real ones from step 150: flicker (jumps)
    labels, amb = label_video(_clip_outcomes([1.0] * 6 + [3.0] * 7, calm, readable, calm))
    assert labels == {"temporal_flicker": 150} and amb == {}
    # 2.2x: the margin band; 3x for 75 steps only: nothing
    labels, amb = label_video(_clip_outcomes([1.0] * 6 + [2.2] * 7, calm, readable, calm))
    assert labels == {} and amb == {"temporal_flicker": 150}
    brief = [1.0] * 6 + [3.0] * 4 + [1.0] * 3
    assert label_video(_clip_outcomes(brief, calm, readable, calm)) == ({}, {})
    # the glyph changes class between legible frames 0.3 more often than in real clips
    flips = [0.0] * 6 + [0.3] * 7
    labels, _ = label_video(_clip_outcomes([1.0] * n, flips, readable, calm))
    assert labels == {"temporal_flicker": 150}
    # the same flips over frames the classifier can hardly read, or with no legible pair
    # at all (NaN): no evidence either way
    for legible in ([0.05] * n, [float("nan")] * n):
        assert label_video(_clip_outcomes([1.0] * n, flips, legible, calm)) == ({}, {})
    # runs stored before these outcomes: motion alone
    labels, _ = label_video(_outcomes([1.0] * 6 + [3.0] * 7, [1.0] * n, [1.0] * n))
    assert labels == {"temporal_flicker": 150}
    assert label_video(_clip_outcomes([1.0] * n, none, none, none)) == ({}, {})


def test_looping_label_needs_moving_clips_that_come_back() -> None:
    n, calm, readable = 13, [0.0] * 13, [0.9] * 13
    loops = [0.0] * 6 + [1.5] * 7
    labels, amb = label_video(_clip_outcomes([1.0] * n, calm, readable, loops))
    assert labels == {"looping_video": 150} and amb == {}
    labels, amb = label_video(_clip_outcomes([1.0] * n, calm, readable, [0.0] * 6 + [0.9] * 7))
    assert labels == {} and amb == {"looping_video": 150}
    # clips that hardly move (frozen) do not loop, whatever their recurrence reads
    labels, _ = label_video(_clip_outcomes([0.2] * n, calm, readable, loops))
    assert "looping_video" not in labels and labels["frozen_video"] == 100


def test_held_out_clip_outcomes_are_the_monitors_clip_signals() -> None:
    import numpy as np
    from failure_suite_video import held_clip_stats

    from gandiag.data import load_dataset
    from gandiag.features.glyph import load_glyph_classifier

    held = load_dataset("moving_glyphs", n=64, seed=3)
    x = torch.from_numpy(held.batch(np.arange(64)))
    y = torch.from_numpy(np.array(held.labels))
    clf = load_glyph_classifier("cpu")
    same = held_clip_stats(x, x.clone(), y, clf)
    assert same["recurrence_excess"] == 0.0 and same["flip_excess"] == 0.0
    assert same["legible_fake"] > 0.8 and same["coherence_ratio"] == pytest.approx(1.0)
    # each frame from another clip: identities change between frames, no coherence
    other = torch.stack([x[(i + torch.arange(8) * 7) % 64, torch.arange(8)] for i in range(64)])
    assert held_clip_stats(x, other, y, clf)["flip_excess"] > 0.5
    assert held_clip_stats(x, other, y, clf)["coherence_ratio"] < 0.2
    # frames 0, 1, 0, 1, ...: a loop
    assert held_clip_stats(x, x[:, [0, 1] * 4], y, clf)["recurrence_excess"] > 1.0


def test_the_rule_before_is_two_evaluations_in_a_row_for_every_label_but_frozen() -> None:
    from failure_suite_video import TWO_EVALUATIONS

    ok = [1.0] * 13
    dip = [0.9] * 6 + [0.45] * 2 + [0.9] * 5
    assert label_video(_outcomes(ok, ok, dip), **TWO_EVALUATIONS) == ({"d_imbalance": 150}, {})
    # one evaluation is not a streak by either rule
    one = [0.9] * 6 + [0.45] + [0.9] * 6
    assert label_video(_outcomes(ok, ok, one), **TWO_EVALUATIONS) == ({}, {})
    # frozen_video keeps its 100 steps: a 50-step still phase is no label by either rule
    still = [1.0] * 6 + [0.2] * 3 + [1.0] * 4
    assert label_video(_outcomes(still, ok, ok), **TWO_EVALUATIONS) == ({}, {})


def test_report_scores_the_same_alerts_by_the_rule_before() -> None:
    from detectors_video import _before_lines

    assert _before_lines({"live": {}}) == []  # JSON written before the line existed
    before = {
        "overall": {
            "precision": 1.0,
            "recall": 0.5,
            "unlabelled_runs": 3,
            "unlabelled_steps": 1800,
        },
        "per_failure": {"d_imbalance": {"detected": 1, "labelled": 2, "false_claims": 0}},
        "unlabelled_alarms": [],
    }
    (line, blank) = _before_lines({"live_two_evaluations": before})
    assert "recall 0.5" in line and "`d_imbalance` 1 of 2, 0 false claims" in line
    assert "3 (1800 steps), alarms there 0" in line and blank == ""


def test_flicker_label_from_coherence_while_the_clips_move() -> None:
    ok = [1.0] * 13

    def run(motion: list[float], coherence: list[float], recurrence: float = 0.0) -> tuple:
        o = _outcomes(motion, ok, ok)
        o["coherence_ratio"] = coherence
        o["recurrence_excess"] = [recurrence] * len(motion)
        return label_video(o)

    # frames drawn anew from step 100: coherence 0.05 of the reals' at real motion
    assert run([1.0] * 13, [1.0] * 4 + [0.05] * 9) == ({"temporal_flicker": 100}, {})
    # 0.3-0.4: the margin band
    assert run([1.0] * 13, [1.0] * 4 + [0.35] * 9) == ({}, {"temporal_flicker": 100})
    # clips that stand still have no coherence to measure: frozen, not flicker
    assert run([1.0] * 4 + [0.1] * 9, [1.0] * 4 + [0.0] * 9) == ({"frozen_video": 100}, {})
    # a two-frame alternation has none either: it is a loop, labelled as one only
    labels, _ = run([1.0] * 13, [0.0] * 13, recurrence=2.0)
    assert labels == {"looping_video": 100}
    # runs stored before the outcome: no coherence, no label from it
    assert run([1.0] * 13, []) == ({}, {})
