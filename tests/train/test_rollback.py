"""Alert policies in the reference trainer: rollback restores exactly the tagged checkpoint,
stop ends the run, and doctor forks branches that replay the original trajectory."""

import pytest
import torch
from fault_injection import FIRE_AT, ONSET, FaultAt

from gandiag.monitor import runtime
from gandiag.store import RunReader
from gandiag.train.trainer import train


@pytest.fixture
def fault(monkeypatch):
    from gandiag.detectors.suite import DetectorSuite

    monkeypatch.setattr(runtime, "resolve_detectors", lambda spec, kind: DetectorSuite([FaultAt()]))


def _config(tiny_config, steps, **policy):
    return tiny_config(
        steps=steps,
        eval={"every": 0, "num_samples": 200, "metrics": []},
        checkpoint={"every": 0, "ring_every": 50},
        monitor={"cadence": {"flush": 25, "samples": 5, "layers": 5, "grid": 0}},
        policy=policy,
    )


def _weights(run_dir):
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    return ckpt["step"], ckpt["stepper"]


def test_rollback_restores_exactly_the_tagged_checkpoint(tmp_path, tiny_config, fault):
    # Rollback with unchanged learning rates replays the original trajectory from the
    # restored state, so the run stopped after its second alert must hold exactly the
    # weights of a run that never rolled back, at the same step.
    cfg = _config(tiny_config, 400, on_critical="rollback", max_rollbacks=1, rollback_lr_scale=1.0)
    rolled = train(cfg, tmp_path / "rolled", progress=False)
    step, state = _weights(rolled)
    with RunReader(rolled) as r:
        events = r.meta("policy_events")
    assert [e["action"] for e in events] == ["rollback", "stop"]
    assert events[0]["to_step"] == 100  # newest healthy ring entry before the onset (120)
    assert events[0]["onset_step"] == ONSET and events[1]["step"] == step < 400

    plain = train(_config(tiny_config, step + 1), tmp_path / "plain", progress=False)
    plain_step, plain_state = _weights(plain)
    assert plain_step == step
    for net in ("G", "D"):
        for key, value in plain_state[net].items():
            torch.testing.assert_close(state[net][key], value, rtol=0, atol=0)


def test_rollback_scales_learning_rates_and_the_store_forgets_the_abandoned_steps(
    tmp_path, tiny_config, fault
):
    cfg = _config(tiny_config, 400, on_critical="rollback", max_rollbacks=1, rollback_lr_scale=0.5)
    run = train(cfg, tmp_path / "run", progress=False)
    step, state = _weights(run)
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(0.5 * 2e-4)
    with RunReader(run) as r:
        assert r.last_step() == step
        assert r.info().status == "finished"


def test_stop_policy_ends_the_run_at_the_alert(tmp_path, tiny_config, fault):
    run = train(_config(tiny_config, 400, on_critical="stop"), tmp_path / "run", progress=False)
    step, _ = _weights(run)
    assert FIRE_AT <= step < FIRE_AT + 25 + 1  # known at the next flush after FIRE_AT
    with RunReader(run) as r:
        assert r.meta("policy_events")[0]["action"] == "stop"
