"""gandiag doctor: branches fork from the last healthy state, the control replays the
original, remedies are ranked, and the report renders in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fault_injection import FaultAt

from gandiag.detectors.suite import DetectorSuite
from gandiag.doctor import doctor
from gandiag.doctor.remedies import CATALOG, LOWER_LR, NON_SATURATING, TTUR, remedies_for
from gandiag.monitor import runtime
from gandiag.store import RunReader
from gandiag.train.trainer import train


@pytest.fixture(scope="module")
def treated(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("doctor")
    cfg = {
        "steps": 200,
        "model": {"name": "mlp_gan"},
        "data": {"name": "ring8", "options": {"n": 512}, "batch_size": 64},
        "eval": {"every": 0, "num_samples": 200, "metrics": []},
        "checkpoint": {"every": 0, "ring": 4, "ring_every": 50},
        "monitor": {"cadence": {"flush": 25, "samples": 5, "layers": 5, "grid": 50}},
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "resolve_detectors", lambda spec, kind: DetectorSuite([FaultAt()]))
        run = train(cfg, root / "run", progress=False)
        result = doctor(run, budget=60, workers=1, remedies=[LOWER_LR, TTUR])
    return run, result


def test_branches_fork_from_the_last_healthy_checkpoint(treated):
    _, result = treated
    assert result.fork_step == 100 and result.detector == "fault_at"  # ring: 50, 100, 150
    assert {b.name for b in result.branches} == {"control", "lower_lr", "ttur"}
    assert result.control_reproduced
    for b in result.branches:
        with RunReader(b.run_dir) as r:
            assert r.meta("forked_from")["step"] == 100
            assert r.last_step() == 100 + 60


def test_the_control_continues_the_original_trajectory_exactly(treated):
    run, _ = treated
    with RunReader(run) as a, RunReader(run / "doctor" / "control") as b:
        sa = a.read_scalars(["loss/G"], since_step=100, until_step=160)["loss/G"]
        sb = b.read_scalars(["loss/G"], since_step=100, until_step=160)["loss/G"]
    assert len(sa.steps) > 10
    assert sb.steps.tolist() == sa.steps.tolist()
    assert sb.values.tolist() == sa.values.tolist()


def test_branches_use_their_own_learning_rates(treated):
    run, _ = treated
    ckpt = torch.load(run / "doctor" / "lower_lr" / "checkpoint.pt", weights_only=True)
    lrs = [ckpt["stepper"][k]["param_groups"][0]["lr"] for k in ("opt_g", "opt_d")]
    assert lrs == pytest.approx([2e-4 / 4, 2e-4 / 4])


def test_max_budget_caps_the_default_budget_not_an_explicit_one(treated, tmp_path):
    run, _ = treated
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "resolve_detectors", lambda spec, kind: DetectorSuite([FaultAt()]))
        # the default here is two evaluation intervals (1,000 steps: the run sets none)
        capped = doctor(run, workers=1, remedies=[LOWER_LR], max_budget=20, out_dir=tmp_path / "a")
        explicit = doctor(
            run, budget=25, workers=1, remedies=[LOWER_LR], max_budget=20, out_dir=tmp_path / "b"
        )
    assert capped.budget == 20 and explicit.budget == 25
    for result in (capped, explicit):
        for b in result.branches:
            with RunReader(b.run_dir) as r:
                assert r.last_step() == result.fork_step + result.budget


def test_remedies_follow_what_the_model_supports():
    ns = {"resolved": {"loss": "nonsaturating", "d_steps": 1, "r1": 0.0, "gp": 0.0}}
    mm = {"resolved": {**ns["resolved"], "loss": "minimax"}}
    assert NON_SATURATING not in remedies_for("vanishing_gradients", ns)
    assert remedies_for("vanishing_gradients", mm)[0] is NON_SATURATING
    vae = {"resolved": {"beta": 1.0, "kl_anneal_steps": 0, "free_bits": 0.0}}
    assert [r.name for r in remedies_for("posterior_collapse", vae)] == [
        "kl_annealing",
        "free_bits",
        "lower_beta",
    ]
    # unrolled steps by capability: the unconditional model only, never a conditional one
    # or one whose D has an auxiliary head
    for model, unrolls in (
        ("mlp_gan", True),
        ("cgan", False),
        ("acgan", False),
        ("infogan", False),
    ):
        cfg = {"model": {"name": model}, "resolved": {**ns["resolved"], "unrolled_steps": 0}}
        assert ("unrolled" in [r.name for r in remedies_for("mode_collapse", cfg)]) is unrolls
    with pytest.raises(ValueError, match="knows"):
        remedies_for("no_such_detector", ns)
    assert all(CATALOG[d] for d in ("mode_collapse", "d_overfitting", "posterior_collapse"))


def test_doctor_refuses_a_run_without_alerts_and_never_overwrites(treated, tmp_path):
    run, _ = treated
    with pytest.raises(ValueError, match="no warning or critical alert from mode_collapse"):
        doctor(run, detector="mode_collapse")
    with pytest.raises(FileExistsError, match="never overwrites"):
        doctor(run, budget=10, workers=1, remedies=[LOWER_LR])


@pytest.mark.browser
def test_the_report_renders_in_chromium(treated, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, result = treated
    page = Path(result.report)
    text = page.read_text()
    assert "Remedies, ranked" in text and "lower_lr" in text
    expected = text.count('class="plotly-graph-div"')
    assert expected >= 2
    browser.get(page.resolve().as_uri())
    WebDriverWait(browser, 60, 0.25).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= expected
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == len(result.branches)
    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == []


@pytest.mark.slow
def test_pooled_branches_equal_serial_ones_and_the_pool_is_reused(tmp_path):
    """Three branches on two reused workers (one runs after another in the same process)
    give exactly what they give one by one in this process."""
    import gandiag.doctor as D
    from gandiag.doctor import _TrainerBranch, run_branches

    cfg = {
        "steps": 30,
        "model": {"name": "mlp_gan"},
        "data": {"name": "ring8", "options": {"n": 256}, "batch_size": 32},
        "eval": {"every": 0, "num_samples": 64, "metrics": []},
        "checkpoint": {"every": 0},
        "monitor": {"cadence": {"flush": 10, "samples": 5, "layers": 5, "grid": 0}},
    }
    lrs = {"a": 2e-4, "b": 1e-4, "c": 5e-5}

    def tasks(where):
        return [
            _TrainerBranch(k, k, {**cfg, "optim": {"lr_g": lr}}, str(tmp_path / where / k), None)
            for k, lr in lrs.items()
        ]

    def losses(where):
        out = {}
        for k in lrs:
            with RunReader(tmp_path / where / k) as r:
                out[k] = r.read_scalars(["loss/G"])["loss/G"].values.tolist()
        return out

    timing: dict = {}
    try:
        run_branches(tasks("pooled"), "mode_collapse", -1, workers=2, timing=timing)
        pool = D._POOL
        run_branches(tasks("again"), "mode_collapse", -1, workers=2)
        assert D._POOL is pool  # the second call found the workers running
    finally:
        D.shutdown_pool()
    assert D._POOL is None
    run_branches(tasks("serial"), "mode_collapse", -1, workers=1)
    serial = losses("serial")
    assert len(serial["a"]) == 30 and serial["a"] != serial["b"]
    assert losses("pooled") == serial
    assert losses("again") == serial
    assert set(timing["tasks"]) == set(lrs) and timing["workers"] == 2


def _diversity_run(path, collapsed_from, early_dip=None):
    """A run whose sample diversity (pdist ratio) drops to 0.1 at ``collapsed_from`` (and
    during ``early_dip``, a range of steps), monitored by mode_collapse with its 500-step
    warm-up; the stored alert is the live one."""
    from gandiag.detectors import DetectorSuite, default_detectors
    from gandiag.store import RunWriter
    from gandiag.types import StepRecord

    suite = DetectorSuite([d for d in default_detectors("gan") if d.name == "mode_collapse"])
    records = [
        StepRecord(
            s,
            {
                "samples/pdist_ratio": 0.1
                if s >= collapsed_from or (early_dip is not None and s in early_dip)
                else 1.0
            },
        )
        for s in range(0, 900, 5)
    ]
    alerts = suite.run(records)
    with RunWriter(path, config={}, name="diversity", kind="gan") as w:
        w.set_meta(detectors=suite.spec())
        w.write_steps(records)
        w.write_alerts(alerts)
    return alerts


def test_a_warm_up_censored_onset_is_traced_back_to_where_the_evidence_began(tmp_path):
    from gandiag.doctor import evidence_onset

    alerts = _diversity_run(tmp_path / "early", collapsed_from=200)
    assert len(alerts) == 1 and alerts[0].onset_step == 500  # the warm-up's end: censored
    assert evidence_onset(tmp_path / "early", alerts[0]) == 200

    # an early episode that recovered is passed over: the evidence under way at the
    # censored onset began at 450
    alerts = _diversity_run(tmp_path / "dip", collapsed_from=450, early_dip=range(300))
    assert alerts[0].onset_step == 500
    assert evidence_onset(tmp_path / "dip", alerts[0]) == 450

    alerts = _diversity_run(tmp_path / "late", collapsed_from=600)
    assert alerts[0].onset_step == 600  # not censored: kept as it is
    assert evidence_onset(tmp_path / "late", alerts[0]) == 600
