"""Which alert doctor treats, how it scores a posterior-collapse remedy, and KL annealing
counted from a fork (fast: synthetic run stores, no training)."""

from __future__ import annotations

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
