"""Which alert doctor treats, how it scores a posterior-collapse remedy, and KL annealing
counted from a fork (fast: synthetic run stores, no training)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gandiag.doctor import NothingToTreat, choose_alert
from gandiag.doctor.score import TAIL_SHARE, rank_branches, score_branch
from gandiag.store import RunWriter
from gandiag.types import Alert, Severity, StepRecord

GAN = {
    "model": {"name": "mlp_gan"},
    "resolved": {"loss": "nonsaturating", "d_steps": 1, "r1": 0.0, "gp": 0.0, "unrolled_steps": 0},
}


def _run(path, alerts, scalars=None, steps=10):
    w = RunWriter(path, config=GAN, kind="gan")
    w.write_steps(
        StepRecord(i, dict((scalars or {}).get(i, {"loss/G": 1.0}))) for i in range(steps)
    )
    w.write_alerts(alerts)
    w.close()
    return path


def _alert(detector, step, severity=Severity.WARNING):
    return Alert(detector, severity, step, step - 1, "made up")


def test_an_alert_without_an_applicable_remedy_is_passed_over_with_the_reason(tmp_path):
    # ignored_noise has no remedy doctor can try: it is passed over, with the reason, and
    # the later mode collapse is treated
    run = _run(tmp_path / "r", [_alert("ignored_noise", 3), _alert("mode_collapse", 6)])
    alert, chosen, passed = choose_alert(run, GAN)
    assert alert.detector == "mode_collapse" and chosen[0].name == "unrolled"
    assert len(passed) == 1 and passed[0].startswith("ignored_noise (step 3)")
    assert "none of its catalogued remedies" in passed[0]


def test_nothing_to_treat_says_why(tmp_path):
    quiet = _run(tmp_path / "q", [_alert("mode_collapse", 5, Severity.INFO)])
    with pytest.raises(NothingToTreat, match="no warning or critical alert"):
        choose_alert(quiet, GAN)
    untreatable = _run(tmp_path / "u", [_alert("ignored_noise", 3), _alert("made_up", 4)])
    with pytest.raises(NothingToTreat, match="ignored_noise .*made_up .*catalogues no remedy"):
        choose_alert(untreatable, GAN)
    assert issubclass(NothingToTreat, ValueError)  # callers catching ValueError still do


def _vae_branch(path, recon, kl_dead: bool):
    """A branch whose reconstruction NLL follows ``recon``; alert when ``kl_dead``."""
    scalars = {
        i: {"vae/recon": v, "eval/modes_covered": 8.0 if kl_dead else 1.0}
        for i, v in enumerate(recon)
    }
    alerts = [_alert("posterior_collapse", 5)] if kl_dead else []
    return _run(path, alerts, scalars, steps=len(recon))


def test_posterior_collapse_remedies_are_judged_by_distortion_over_the_tail(tmp_path):
    # a remedy that keeps the code informative reconstructs better than the control, even
    # when a handful of stray samples gives the control more "modes covered"
    fork, n = 1, 21
    control = [2.0] * n
    remedy = [2.0] * 12 + [1.0] * 9  # worse early (annealing), better over the tail
    scores = [
        score_branch(
            "control", "", _vae_branch(tmp_path / "c", control, True), "posterior_collapse", fork
        ),
        score_branch(
            "free_bits", "", _vae_branch(tmp_path / "f", remedy, False), "posterior_collapse", fork
        ),
    ]
    ranked = rank_branches(scores)
    best = ranked[0]
    assert best.name == "free_bits" and best.quality_name == "vae/recon"
    assert best.improves_on_control and not best.higher_is_better
    tail = max(1, int((n - fork - 1) * TAIL_SHARE))
    assert best.quality == pytest.approx(sum(remedy[-tail:]) / tail)
    # a GAN failure keeps the generic measure
    gan = score_branch("c", "", tmp_path / "c", "mode_collapse", fork)
    assert gan.quality_name == "eval/modes_covered" and gan.quality == 8.0


def test_kl_annealing_counts_from_its_start_step():
    from gandiag.reference_models import build_model
    from gandiag.train.vae_step import AutoencoderStepper, VAESettings

    bundle = build_model("vae", seed=0, latent_dim=2, hidden=8, data_dim=2)

    def stepper(**s):
        settings = VAESettings(beta=1.0, free_bits=0.0, **s)
        return AutoencoderStepper(
            bundle,
            settings,
            lambda params, _: torch.optim.Adam(params),
            lambda: (torch.zeros(2, 2), None),
            torch.Generator(),
            torch.no_grad,
        )

    plain = stepper(kl_anneal_steps=100)
    assert [plain.kl_weight(s) for s in (0, 50, 100, 600)] == [0.0, 0.5, 1.0, 1.0]
    forked = stepper(kl_anneal_steps=100, kl_anneal_start=501)
    # a branch forked at step 500 anneals over its own first 100 steps, not already done
    assert [forked.kl_weight(s) for s in (501, 551, 601, 700)] == [0.0, 0.5, 1.0, 1.0]
    assert stepper(kl_anneal_steps=0, kl_anneal_start=501).kl_weight(501) == 1.0


def _score(name, cleared, quality, other=()):
    from gandiag.doctor.score import BranchScore

    return BranchScore(name, "", "", cleared, other_findings=list(other), quality=quality)


def test_ties_are_ranked_in_the_practitioners_order_and_the_control_leads_its_ties():
    # modes covered ties often (1 against 1): tied remedies go in the catalogue's order
    # (the first is the one named first), not in the order the branches happened to run
    scores = [
        _score("control", False, 1.0),
        _score("spectral_norm_hinge", True, 1.0),
        _score("hinge_loss", True, 1.0),
        _score("unrolled", True, 1.0),
        _score("r1_penalty", True, 3.0),
    ]
    order = ["unrolled", "r1_penalty", "hinge_loss", "spectral_norm_hinge"]
    ranked = [s.name for s in rank_branches(scores, order=order)]
    assert ranked == ["r1_penalty", "unrolled", "hinge_loss", "spectral_norm_hinge", "control"]
    # without an order, tied branches keep the order given
    given = [s.name for s in rank_branches(scores)]
    assert given == ["r1_penalty", "spectral_norm_hinge", "hinge_loss", "unrolled", "control"]
    # a remedy that scores exactly as the control does comes after it, and does not improve
    tie = rank_branches([_score("unrolled", True, 1.0), _score("control", True, 1.0)], order=order)
    assert [s.name for s in tie] == ["control", "unrolled"]
    assert tie[1].improves_on_control is False
    # the order never overrides a real difference: clearing, other findings, quality
    differ = [
        _score("unrolled", True, 1.0, ["oscillation"]),
        _score("hinge_loss", True, 1.0),
        _score("r1_penalty", False, 8.0),
    ]
    assert [s.name for s in rank_branches(differ, order=order)] == [
        "hinge_loss",
        "unrolled",
        "r1_penalty",
    ]


def _translation_branch(path, gains: dict[str, list[float]], alert: bool):
    """A super-resolution-like branch: per-generator probe scalars, FID under the loop's
    per-generator metric name (``G_AB_fid``), never a plain ``fid``."""
    from gandiag.types import MetricProtocol, MetricResult

    protocol = MetricProtocol(feature_extractor="glyph", num_real=8, num_fake=8)
    steps = len(next(iter(gains.values())))
    scalars = {
        i: {f"translation/{net}/psnr_gain": v[i] for net, v in gains.items()} for i in range(steps)
    }
    w = RunWriter(path, config=GAN, kind="translation")
    w.write_steps(StepRecord(i, scalars[i]) for i in range(steps))
    w.write_alerts([_alert("sr_no_gain", 5)] if alert else [])
    w.write_metrics([MetricResult(f"{net}_fid", 50.0, protocol, step=steps - 1) for net in gains])
    w.close()
    return path


def test_image_to_image_failures_are_judged_by_their_probe_measure(tmp_path):
    from gandiag.doctor.score import probe_outcome

    # the loop names its FID per generator: the generic measures find none, which had left
    # every translation branch without a quality (so none could beat the control)
    fork, n = 1, 21
    control = _translation_branch(tmp_path / "c", {"G_AB": [-1.0] * n, "G_BA": [-1.0] * n}, True)
    # the remedy mends G_AB only late, and G_BA less: the worst generator's tail is its measure
    remedy = _translation_branch(
        tmp_path / "r", {"G_AB": [-1.0] * 12 + [2.0] * 9, "G_BA": [-1.0] * 12 + [0.5] * 9}, False
    )
    scores = [
        score_branch("control", "", control, "sr_no_gain", fork),
        score_branch("pretrain", "", remedy, "sr_no_gain", fork),
    ]
    best = rank_branches(scores)[0]
    assert best.name == "pretrain" and best.quality_name == "translation/*/psnr_gain"
    assert best.higher_is_better and best.improves_on_control
    assert best.quality == pytest.approx(0.5)  # G_BA's tail mean, not the mean over both
    # the direction follows the detector: steganography's blur gain is bad when high
    assert probe_outcome("steganography") == (
        "translation/*/max(blur_gain,fine_blur_gain,noise_gain)",
        False,
    )
    assert probe_outcome("content_lost") == ("translation/*/class_kept", True)
    assert probe_outcome("mode_collapse") is None


def _gain_branch(path, gains: dict[str, float], n: int = 8):
    """A steganography-like branch: every probe holds the hiding gains ``gains`` of G_AB."""
    w = RunWriter(path, config=GAN, kind="translation")
    w.write_steps(
        StepRecord(i, {f"translation/G_AB/{k}": v for k, v in gains.items()}) for i in range(n)
    )
    w.close()
    return path


def test_a_steganography_remedy_is_judged_by_the_gain_the_detector_alerts_on(tmp_path):
    # the control hides at the pixel scale: its 1 px blur gain stays low (0.3), its noise
    # gain is high (0.9), and the detector alerts on the family's largest. The remedy
    # brings every gain to 0.4: it mends what raised the alert, though its blur gain
    # alone is higher than the control's (judged by blur_gain it would lose)
    control = _gain_branch(
        tmp_path / "c", {"blur_gain": 0.3, "fine_blur_gain": 0.6, "noise_gain": 0.9}
    )
    remedy = _gain_branch(
        tmp_path / "r", {"blur_gain": 0.4, "fine_blur_gain": 0.4, "noise_gain": 0.4}
    )
    scores = [
        score_branch("control", "", control, "steganography", 1),
        score_branch("perturb_cycle", "", remedy, "steganography", 1),
    ]
    by_name = {s.name: s for s in rank_branches(scores)}
    assert by_name["control"].quality == pytest.approx(0.9)
    assert by_name["perturb_cycle"].quality == pytest.approx(0.4)
    assert not by_name["perturb_cycle"].higher_is_better
    assert by_name["perturb_cycle"].improves_on_control
    assert rank_branches(scores)[0].name == "perturb_cycle"


def test_a_probe_outcome_is_the_value_the_detector_compares(tmp_path):
    # asked of the detector, record by record: for every probe detector the doctor's
    # measure is the detector's own value (its combination of signals, where it has one)
    from gandiag.detectors import DETECTORS
    from gandiag.detectors.translation import TRANSLATION_DETECTORS
    from gandiag.doctor.score import probe_outcome

    record = StepRecord(
        300,
        {
            "translation/G_AB/output_diversity": 0.8,
            "translation/G_AB/class_diversity": 0.1,
            "translation/G_AB/target_class_acc": 0.9,
            "translation/G_AB/blur_gain": 0.2,
            "translation/G_AB/noise_gain": 0.7,
            "translation/G_AB/class_kept": 0.5,
        },
    )
    for name in TRANSLATION_DETECTORS:
        det = DETECTORS.get(name)()
        signal = record.scalars.get(f"translation/G_AB/{det.signal_name}")
        expected = {} if signal is None else {"G_AB": det.value(record, "G_AB", signal)}
        assert det.watched(record) == expected
        assert probe_outcome(name) == (type(det).watched_name(), det.below)
    # the steganography detector reads its family's largest gain, the collapse detector the
    # smaller of its pixel and class spreads
    assert DETECTORS.get("steganography")().watched(record) == {"G_AB": 0.7}
    assert DETECTORS.get("translation_collapse")().watched(record) == {"G_AB": 0.1}


def _branch(path, detector: str, signal: str, values: list[float], every: int = 10, **over):
    """A branch recorded with one detector (``over``: its parameter overrides), ``signal``
    every ``every`` steps, and the alerts the detector raised live."""
    from gandiag.detectors import DetectorSuite

    suite = DetectorSuite.from_spec(
        [{"name": detector, "params": {}}], {detector: over} if over else None
    )
    w = RunWriter(
        path, config=GAN, kind="translation" if signal.startswith("translation/") else "gan"
    )
    w.set_meta(detectors=suite.spec())
    records = [
        StepRecord(i, {signal: values[i // every]} if i % every == 0 else {})
        for i in range(every * len(values))
    ]
    w.write_steps(records)
    w.write_alerts([a for r in records for a in suite.update(r)])
    w.close()
    return path


def _sr_branch(path, gains: list[float]):
    """An SR branch with the sr_no_gain detector (warm-up 20 steps)."""
    return _branch(path, "sr_no_gain", "translation/G/psnr_gain", gains, warmup_steps=20)


def test_clearing_is_judged_on_the_branch_second_half(tmp_path):
    # from the initialisation every branch is below bicubic while it learns: the remedy's
    # branch raised the alert at step 40, then beat bicubic for its whole second half
    remedy = _sr_branch(tmp_path / "r", [-9, -6, -4, -2, -1, 0.5, 1, 1, 1, 1, 1, 1])
    control = _sr_branch(tmp_path / "c", [-9, -8, -7, -6, -5, -5, -4, -4, -4, -3, -3, -3])
    whole = score_branch("pretrain", "", remedy, "sr_no_gain", -1)
    assert not whole.cleared and whole.target_alerts and whole.judged_from is None
    half = score_branch("pretrain", "", remedy, "sr_no_gain", -1, judge_from=60)
    assert half.cleared and half.judged_from == 60 and half.target_alerts  # kept as evidence
    # the control's failure persists: replayed from the same step it fires again
    assert not score_branch("control", "", control, "sr_no_gain", -1, judge_from=60).cleared
    # a remedy that fails again late is not cleared
    late = _sr_branch(tmp_path / "l", [-9, -6, -4, -2, -1, 0.5, 1, 1, -1, -1, -1, -1])
    assert not score_branch("late", "", late, "sr_no_gain", -1, judge_from=60).cleared
    # a detector the run did not record (a user's own) falls back to the recorded alerts
    other = score_branch("pretrain", "", remedy, "mode_collapse", -1, judge_from=60)
    assert other.cleared and other.judged_from is None


def test_the_report_says_over_which_steps_clearing_was_judged():
    from gandiag.doctor.report import _verdict
    from gandiag.doctor.score import BranchScore

    early = BranchScore("r", "", "", True, target_alerts=["a"], judged_from=250)
    assert _verdict(early) == "cleared from step 250; raised 1 before"
    assert _verdict(BranchScore("c", "", "", False, ["a"], judged_from=250)) == (
        "fired again from step 250"
    )
    assert _verdict(BranchScore("w", "", "", False, ["a", "b"])) == "fired again (2)"


def _w_branch(path, w_std: list[float]):
    """A StyleGAN branch with w_collapse (std of w against its own first records)."""
    from gandiag import signals as S

    return _branch(path, "w_collapse", S.STYLE_W_STD, w_std)


def test_a_replay_blind_to_the_failure_falls_back_to_the_recorded_alerts(tmp_path):
    from gandiag.doctor.score import judge_by_recorded_alerts_if_replay_is_blind

    # the control's w collapses at step 100 and stays collapsed; the remedy's never does
    control = _w_branch(tmp_path / "c", [0.75] * 8 + [1e-3] * 22)
    remedy = _w_branch(tmp_path / "r", [0.75] * 30)
    scores = [
        score_branch("control", "", control, "w_collapse", -1, judge_from=150),
        score_branch("mapping_no_decay", "", remedy, "w_collapse", -1, judge_from=150),
    ]
    # replayed from step 150 with a fresh state, w_collapse takes the collapsed level as
    # its baseline: the control, still collapsed, looks cleared
    assert scores[0].target_alerts and scores[0].cleared and scores[0].judged_from == 150
    judged = judge_by_recorded_alerts_if_replay_is_blind(scores)
    assert [s.cleared for s in judged] == [False, True]
    assert all(s.judged_from is None for s in judged)
    # where the replay sees the failure in the control, the second-half judgement stands
    fine = [dataclasses.replace(scores[0], cleared=False), scores[1]]
    assert judge_by_recorded_alerts_if_replay_is_blind(fine) == fine


def test_a_video_branch_is_judged_by_its_video_distance_not_a_class_count(tmp_path):
    # DVD-GAN branches were judged by classes covered (1 against 1: no evidence either
    # way); a video run logs fvd_lite, which sees motion, and that is its quality
    from gandiag.doctor.score import _quality
    from gandiag.store import RunReader
    from gandiag.types import MetricProtocol, MetricResult

    w = RunWriter(tmp_path / "v", config=GAN, kind="video")
    w.write_steps(StepRecord(i, {"eval/classes_covered": 1.0}) for i in range(4))
    protocol = MetricProtocol(feature_extractor="video glyph net", num_real=8, num_fake=8)
    w.write_metrics(
        [
            MetricResult("fvd_lite", 40.0, protocol, step=1),
            MetricResult("fvd_lite", 25.0, protocol, step=3),
        ]
    )
    w.close()
    name, value, higher = _quality(RunReader(tmp_path / "v"))
    assert (name, value, higher) == ("fvd_lite", 25.0, False)


def _video_branch(path, evals: dict[int, dict[str, float]], alerts, steps=250):
    """A video branch: ``eval/*`` scalars at the evaluation steps, an FVD-lite at the end."""
    from gandiag.types import MetricProtocol, MetricResult

    w = RunWriter(path, config={"model": {"name": "dvdgan"}}, kind="video")
    w.write_steps(StepRecord(i, {"loss/G": 1.0, **evals.get(i, {})}) for i in range(steps))
    w.write_alerts(alerts)
    w.write_metrics(
        [MetricResult("fvd_lite", 47.0, protocol=MetricProtocol("video_net"), step=steps - 1)]
    )
    w.close()
    return path


@pytest.mark.parametrize(
    ("detector", "measure", "control", "remedy", "higher"),
    [
        ("looping_video", "eval/recurrence_excess", 1.4, 0.1, False),
        ("temporal_flicker", "eval/coherence_ratio", 0.1, 1.6, True),
    ],
)
def test_looping_and_flicker_remedies_are_judged_by_the_measure_the_failure_spoils(
    tmp_path, detector, measure, control, remedy, higher
):
    """FVD-lite can rate a loop of real-looking frames like a healthy clip (both branches
    here score 47.0): the branch is judged by the held-out clips' recurrence or coherence,
    from the evaluations after the fork, and the remedy that mends it beats the control."""
    evals_c = {s: {measure: control, "eval/motion_ratio": 0.9} for s in (50, 100, 150, 200, 249)}
    evals_r = {s: {measure: remedy, "eval/motion_ratio": 0.9} for s in (50, 100, 150, 200, 249)}
    c = _video_branch(tmp_path / "c", evals_c, [_alert(detector, 200)])
    r = _video_branch(tmp_path / "r", evals_r, [])
    scores = [score_branch("control", "", c, detector, 0), score_branch("fix", "", r, detector, 0)]
    best = rank_branches(scores)[0]
    assert best.name == "fix" and best.quality_name == measure
    assert best.quality == pytest.approx(remedy) and best.higher_is_better is higher
    assert best.improves_on_control
    # frozen video keeps FVD-lite: more motion is not better past the reals'
    frozen = score_branch("control", "", c, "frozen_video", 0)
    assert frozen.quality_name == "fvd_lite" and frozen.quality == 47.0
